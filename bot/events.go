package bot

import (
	"net/url"
	"strings"
	"sync"

	"github.com/imagebump/imagebump/bot/webhook"
	"github.com/imagebump/imagebump/config"
)

// Interest tells which repositories an event concerns: those whose last
// pass resolved a policy of one of the event's images, or the repository
// a git event names. A repository that has not finished a pass that read
// its policies is concerned by every registry event, since what it uses is
// not known yet: at worst one extra pass. It is safe for concurrent use.
type Interest struct {
	mu     sync.Mutex
	repos  []config.Repository
	images []map[string]bool // by repository; nil when not known yet
}

// NewInterest returns the Interest of repos, in the order the Scheduler
// numbers them.
func NewInterest(repos []config.Repository) *Interest {
	return &Interest{repos: repos, images: make([]map[string]bool, len(repos))}
}

// Observe records the images the policies of repository i used in the
// pass res. A pass that stopped before reading its policies changes
// nothing.
func (t *Interest) Observe(i int, res Result) {
	if res.Plan == nil {
		return
	}
	images := map[string]bool{}
	for _, p := range res.Policies {
		images[NormalizeImage(p.Policy.Spec().Image)] = true
	}
	t.mu.Lock()
	t.images[i] = images
	t.mu.Unlock()
}

// Match returns the indexes of the repositories ev concerns.
func (t *Interest) Match(ev webhook.Event) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for i, r := range t.repos {
		if t.concerns(i, r, ev) {
			out = append(out, i)
		}
	}
	return out
}

func (t *Interest) concerns(i int, r config.Repository, ev webhook.Event) bool {
	if len(ev.Images) > 0 && t.images[i] == nil {
		return true
	}
	for _, img := range ev.Images {
		if t.images[i][NormalizeImage(img)] {
			return true
		}
	}
	want := NormalizeGitURL(r.URL)
	for _, u := range ev.Repositories {
		if NormalizeGitURL(u) == want {
			return true
		}
	}
	return false
}

// NormalizeImage returns the form of an image repository that two names
// of one repository share: host lower-cased, Docker Hub as docker.io with
// library/ for official images, no tag or digest.
func NormalizeImage(ref string) string {
	ref = webhook.StripTag(ref)
	host, path, ok := strings.Cut(ref, "/")
	if !ok || (!strings.ContainsAny(host, ".:") && host != "localhost") {
		host, path = "docker.io", ref
	}
	host = strings.ToLower(host)
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		host = "docker.io"
	}
	if host == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return host + "/" + path
}

// NormalizeGitURL returns the form of a git repository's URL that its
// clone URLs (https, http, ssh, scp-like git@host:path) and its web page
// share: host/path, host lower-cased, without user, .git or a final slash.
func NormalizeGitURL(raw string) string {
	var host, path string
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		host, path = u.Hostname(), u.Path
		if u.Scheme != "ssh" && u.Port() != "" {
			host = u.Host
		}
	} else if at, rest, ok := strings.Cut(raw, ":"); ok && !strings.Contains(at, "/") {
		// git@host:owner/repo
		if i := strings.LastIndexByte(at, '@'); i >= 0 {
			at = at[i+1:]
		}
		host, path = at, rest
	} else {
		return raw
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return strings.ToLower(host) + "/" + path
}
