package forge

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

func newNil(string, string, string, *slog.Logger) (pullrequest.Forge, error) { return nil, nil }

var (
	hub = Kind{Name: "hub", Title: "Hub", New: newNil, TeamReviewers: true, Draft: true, PublicHost: "hub.example", PublicAPI: "", APIExample: "https://%s/api/v3/", APIPath: "/api/v3"}
	lab = Kind{Name: "lab", Title: "Lab", New: newNil, PublicHost: "lab.example", PublicAPI: "https://lab.example/api/v4", APIExample: "https://%s/api/v4", APIPath: "/api/v4", Namespaces: true}
	tea = Kind{Name: "tea", Title: "Tea", New: newNil, TeamReviewers: true, Draft: true, APIExample: "https://%s"}
)

func TestKindAPIURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    Kind
		host    string
		want    string
		wantErr string
	}{
		{"public host, client default", hub, "hub.example", "", ""},
		{"public host, given root", lab, "lab.example", "https://lab.example/api/v4", ""},
		{"no host", lab, "", "https://lab.example/api/v4", ""},
		{"self-hosted", lab, "git.acme.io", "", "is required for host git.acme.io, e.g. https://git.acme.io/api/v4"},
		{"never public", tea, "", "", "is required"},
		{"never public, with host", tea, "git.acme.io", "", "is required for host git.acme.io, e.g. https://git.acme.io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.kind.APIURL(tc.host)
			if gotErr := errString(err); gotErr != tc.wantErr || got != tc.want {
				t.Errorf("APIURL(%q) = %q, %q; want %q, %q", tc.host, got, gotErr, tc.want, tc.wantErr)
			}
		})
	}
}

func TestKindPath(t *testing.T) {
	for _, tc := range []struct {
		name, path, apiURL string
		kind               Kind
		want               [2]string
		wantErr            string
	}{
		{"owner/repo", "/acme/fleet", "", hub, [2]string{"acme", "fleet"}, ""},
		{"only the last two elements", "/prefix/acme/fleet", "", hub, [2]string{"acme", "fleet"}, ""},
		{"one element", "/fleet", "", hub, [2]string{}, "the path must end in OWNER/REPO"},
		{"nested groups", "/group/sub/project", "https://git.acme.io/api/v4", lab, [2]string{"group/sub", "project"}, ""},
		{"relative URL root taken off", "/gitlab/group/project", "https://acme.io/gitlab/api/v4", lab, [2]string{"group", "project"}, ""},
		{"relative root only where the API has it", "/gitlab/group/project", "https://acme.io/api/v4", lab, [2]string{"gitlab/group", "project"}, ""},
		{"empty group", "/acme//fleet", "", lab, [2]string{}, "the path must be GROUP/…/PROJECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, name, err := tc.kind.Path(tc.path, tc.apiURL)
			if gotErr := errString(err); gotErr != tc.wantErr || [2]string{owner, name} != tc.want {
				t.Errorf("Path = %q, %q, %q; want %q, %q", owner, name, gotErr, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct{ path, owner, name, err string }{
		{"acme/fleet", "acme", "fleet", ""},
		{"group/sub/project", "group/sub", "project", ""},
		{"fleet", "", "", `repository path "fleet" is not OWNER/REPO`},
		{"acme/", "", "", `repository path "acme/" is not OWNER/REPO`},
		{"/fleet", "", "", `repository path "/fleet" is not OWNER/REPO`},
	} {
		owner, name, err := SplitPath(tc.path)
		if owner != tc.owner || name != tc.name || errString(err) != tc.err {
			t.Errorf("SplitPath(%q) = %q, %q, %v; want %q, %q, %q", tc.path, owner, name, err, tc.owner, tc.name, tc.err)
		}
	}
}

func TestKindUnsupported(t *testing.T) {
	all := pullrequest.Settings{Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}, Draft: true}
	if diff := cmp.Diff([]string(nil), hub.Unsupported(all)); diff != "" {
		t.Errorf("hub (-want +got):\n%s", diff)
	}
	want := []string{
		"teamReviewers: Lab has no team reviewers; list the people under reviewers instead",
		"draft: Lab has no draft pull requests",
	}
	if diff := cmp.Diff(want, lab.Unsupported(all)); diff != "" {
		t.Errorf("lab (-want +got):\n%s", diff)
	}
	slugs := pullrequest.Settings{TeamReviewers: []string{"platform", "acme/web-team"}}
	if diff := cmp.Diff([]string{`teamReviewers[1]: "acme/web-team": Hub takes a team's slug, without its organization: web-team`}, hub.Unsupported(slugs)); diff != "" {
		t.Errorf("hub with ORG/TEAM (-want +got):\n%s", diff)
	}
	if got := lab.Unsupported(pullrequest.Settings{Reviewers: []string{"alice"}}); got != nil {
		t.Errorf("lab with user reviewers only: %q", got)
	}
}

func TestKinds(t *testing.T) {
	ks := Kinds{hub, lab, tea}
	if err := ks.Validate(); err != nil {
		t.Fatal(err)
	}
	if k, ok := ks.Lookup("lab"); !ok || k.Name != "lab" {
		t.Errorf("Lookup(lab) = %v, %v", k.Name, ok)
	}
	if _, ok := ks.Lookup("nope"); ok {
		t.Error("Lookup(nope) found a kind")
	}
	if k, ok := ks.ForHost("hub.example"); !ok || k.Name != "hub" {
		t.Errorf("ForHost(hub.example) = %v, %v", k.Name, ok)
	}
	for _, host := range []string{"", "git.acme.io"} {
		if k, ok := ks.ForHost(host); ok {
			t.Errorf("ForHost(%q) = %s, want none", host, k.Name)
		}
	}
	if diff := cmp.Diff([]string{"hub", "lab", "tea"}, ks.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}

	noNew := tea
	noNew.New = nil
	twin := lab
	twin.Name = "lab2"
	for _, tc := range []struct {
		name string
		ks   Kinds
		want string
	}{
		{"twice", Kinds{hub, hub}, "forge kind hub is listed twice"},
		{"no constructor", Kinds{noNew}, "forge kind tea has no constructor"},
		{"no name", Kinds{{New: newNil}}, "forge kind 0 has no name or title"},
		{"one public host for two", Kinds{lab, twin}, "forge kind lab2: public host lab.example is another kind's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errString(tc.ks.Validate()); got != tc.want {
				t.Errorf("Validate = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckAPIURL(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"https://git.acme.io/api/v4", ""},
		{"http://127.0.0.1:3000", ""},
		{"git.acme.io", `"git.acme.io" is not an http(s) URL`},
		{"ftp://git.acme.io/", `"ftp://git.acme.io/" is not an http(s) URL`},
		{"https://u:tok@git.acme.io/api/v4", `"https://REDACTED@git.acme.io/api/v4" holds user information; the token comes from auth.tokenFile`},
		{"https://u:s3cret@git.acme.io:x/", `"https://REDACTED@git.acme.io:x/" is not an http(s) URL`},
	} {
		if got := errString(CheckAPIURL(tc.raw)); got != tc.want {
			t.Errorf("CheckAPIURL(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"https://git.acme.io/a":        "https://git.acme.io/a",
		"https://tok@git.acme.io/a":    "https://REDACTED@git.acme.io/a",
		"https://u:p/w@git.acme.io/a":  "https://REDACTED@git.acme.io/a",
		"https://u:p@ss@git.acme.io/a": "https://REDACTED@git.acme.io/a",
		"no scheme u:p@host":           "no scheme u:p@host",
	} {
		got := Redact(raw)
		if got != want || strings.Contains(got, "p@ss") {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
