package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/imagebump/imagebump/problem"
)

// Dashboard is the root policy file's dashboard setting: one issue on the
// forge that shows the repository's status.
type Dashboard struct {
	Enabled bool
	// Title is the title; DefaultDashboardTitle when unset.
	Title string
}

// DefaultDashboardTitle is the dashboard issue's title when the policy
// file names none.
const DefaultDashboardTitle = "imagebump dashboard"

// maxDashboardTitle is the longest title the forges all accept (GitHub's
// limit is 256 characters, GitLab's and Gitea's 255).
const maxDashboardTitle = 255

type dashboardFile struct {
	Enabled bool   `yaml:"enabled"`
	Title   string `yaml:"title"`
}

// dashboardOf reads the dashboard section of a policy file that already
// decoded strictly: nil when it has none.
func dashboardOf(file string, src []byte) (*Dashboard, problem.List) {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
		return nil, nil
	}
	node := valueOf(doc.Content[0], "dashboard")
	if node == nil {
		return nil, nil
	}
	line := keyLine(doc.Content[0], "dashboard")
	var f dashboardFile
	if err := node.Decode(&f); err != nil {
		return nil, problem.List{{File: file, Line: line, Message: fmt.Sprintf("dashboard: %v", err)}}
	}
	d := &Dashboard{Enabled: f.Enabled, Title: strings.TrimSpace(f.Title)}
	if d.Title == "" {
		d.Title = DefaultDashboardTitle
	}
	if strings.ContainsAny(d.Title, "\r\n") || len([]rune(d.Title)) > maxDashboardTitle {
		return nil, problem.List{{File: file, Line: fieldLine(node, "title"),
			Message: fmt.Sprintf("dashboard.title: one line of at most %d characters", maxDashboardTitle)}}
	}
	return d, nil
}
