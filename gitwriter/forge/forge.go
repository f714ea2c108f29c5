package forge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// Kind is one kind of forge.
type Kind struct {
	// Name is the key of the forge's section in a repository's config
	// entry ("github"); it is unique within Kinds.
	Name string
	// Title is the forge's name as its users write it ("GitHub").
	Title string
	// New makes the client of the repository at path (OWNER/REPO, or
	// GROUP/…/PROJECT where Namespaces) on the forge whose API root is
	// apiURL, authenticated with token. log (nil: discard) receives what
	// the client decides on its own, such as a draft the forge refused.
	New func(apiURL, path, token string, log *slog.Logger) (pullrequest.Forge, error)
	// TokenUser is the basic-auth user git sends with the token; "" keeps
	// gitwriter's default.
	TokenUser string
	// TeamReviewers says the forge can ask teams for a review.
	TeamReviewers bool
	// Draft says the forge can open a pull request as a draft (natively
	// or through a title prefix it reads as such).
	Draft bool
	// PublicHost is the git host of the forge's public service
	// ("github.com"); a repository there needs no section, and a section
	// without apiURL gets PublicAPI. Empty when there is none.
	PublicHost string
	// PublicAPI is the API root of PublicHost. Empty means the client's
	// own default.
	PublicAPI string
	// APIExample is an example API root of a self-hosted instance, with
	// %s for the host, shown when apiURL is missing.
	APIExample string
	// APIPath is the path the API root ends in ("/api/v4"); what comes
	// before it is a relative URL root that repository URLs carry too.
	// It is only taken off paths where Namespaces is set.
	APIPath string
	// Namespaces says repository paths may hold groups and subgroups: the
	// owner is everything before the last element.
	Namespaces bool
}

// Unsupported lists the pull request settings of s the forge cannot
// honour, as "field: reason", so they are refused before a pass rather
// than silently dropped: team reviewers where the forge has none, or
// written ORG/TEAM where it takes the team's slug (GitHub refuses the
// whole review request then, and no reviewer is set).
func (k Kind) Unsupported(s pullrequest.Settings) []string {
	var out []string
	if len(s.TeamReviewers) > 0 && !k.TeamReviewers {
		out = append(out, fmt.Sprintf("teamReviewers: %s has no team reviewers; list the people under reviewers instead", k.Title))
	}
	for i, t := range s.TeamReviewers {
		if _, slug, ok := strings.Cut(t, "/"); ok && k.TeamReviewers {
			out = append(out, fmt.Sprintf("teamReviewers[%d]: %q: %s takes a team's slug, without its organization: %s", i, t, k.Title, slug))
		}
	}
	if s.Draft && !k.Draft {
		out = append(out, fmt.Sprintf("draft: %s has no draft pull requests", k.Title))
	}
	return out
}

// APIURL is the API root a repository on host uses when its section gives
// none: PublicAPI on PublicHost (or when the URL has no host), else an
// error with an example.
func (k Kind) APIURL(host string) (string, error) {
	if k.PublicHost != "" && (host == k.PublicHost || host == "") {
		return k.PublicAPI, nil
	}
	if k.APIExample == "" || host == "" {
		return "", errors.New("is required")
	}
	return "", fmt.Errorf("is required for host %s, e.g. "+k.APIExample, host, host)
}

// Path splits a repository URL's path (without .git) into owner and name,
// after taking off the relative URL root apiURL names. On a forge with
// Namespaces the owner is the whole namespace.
func (k Kind) Path(path, apiURL string) (owner, name string, err error) {
	if k.Namespaces {
		if prefix := relativeRoot(apiURL, k.APIPath); prefix != "" && strings.HasPrefix(path, prefix+"/") {
			path = path[len(prefix):]
		}
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if k.Namespaces {
		if len(parts) < 2 || slices.Contains(parts, "") {
			return "", "", errors.New("the path must be GROUP/…/PROJECT")
		}
		return strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1], nil
	}
	return ownerRepo(parts)
}

// SplitPath splits a repository path as Kind.New receives it, OWNER/REPO
// (GROUP/…/PROJECT), at its last slash.
func SplitPath(path string) (owner, name string, err error) {
	i := strings.LastIndex(path, "/")
	if i <= 0 || i == len(path)-1 {
		return "", "", fmt.Errorf("repository path %q is not OWNER/REPO", path)
	}
	return path[:i], path[i+1:], nil
}

// OwnerRepo splits a path into its last two elements, which is how a
// repository without a forge (push mode) is named.
func OwnerRepo(path string) (owner, name string, err error) {
	return ownerRepo(strings.Split(strings.Trim(path, "/"), "/"))
}

func ownerRepo(parts []string) (owner, name string, err error) {
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", errors.New("the path must end in OWNER/REPO")
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}

// relativeRoot is the path before apiPath in apiURL: "/gitlab" for
// https://HOST/gitlab/api/v4, "" for most.
func relativeRoot(apiURL, apiPath string) string {
	if apiPath == "" {
		return ""
	}
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	prefix, _, ok := strings.Cut(u.Path, apiPath)
	if !ok {
		return ""
	}
	return strings.TrimSuffix(prefix, "/")
}

// Kinds is the table of the forges a bot knows.
type Kinds []Kind

// Lookup returns the kind named name.
func (ks Kinds) Lookup(name string) (Kind, bool) {
	i := slices.IndexFunc(ks, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	return ks[i], true
}

// ForHost returns the kind whose public service is at host, which a
// repository there gets without naming it.
func (ks Kinds) ForHost(host string) (Kind, bool) {
	i := slices.IndexFunc(ks, func(k Kind) bool { return k.PublicHost != "" && k.PublicHost == host })
	if i < 0 {
		return Kind{}, false
	}
	return ks[i], true
}

// Names are the kinds' names, in table order.
func (ks Kinds) Names() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}

// Validate reports a table that cannot serve: a kind without name or
// constructor, two kinds of one name or one public host.
func (ks Kinds) Validate() error {
	names, hosts := map[string]bool{}, map[string]bool{}
	for i, k := range ks {
		switch {
		case k.Name == "" || k.Title == "":
			return fmt.Errorf("forge kind %d has no name or title", i)
		case k.New == nil:
			return fmt.Errorf("forge kind %s has no constructor", k.Name)
		case names[k.Name]:
			return fmt.Errorf("forge kind %s is listed twice", k.Name)
		case k.PublicHost != "" && hosts[k.PublicHost]:
			return fmt.Errorf("forge kind %s: public host %s is another kind's", k.Name, k.PublicHost)
		}
		names[k.Name], hosts[k.PublicHost] = true, true
	}
	return nil
}

// CheckAPIURL checks that raw is an http(s) URL with a host and without
// credentials, the one rule every client and the config apply to an API
// root. Its errors never show credentials.
func CheckAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", Redact(raw))
	}
	if u.User != nil {
		return fmt.Errorf("%q holds user information; the token comes from auth.tokenFile", Redact(raw))
	}
	return nil
}

// Redact is raw with everything between its scheme and its last @
// replaced, so a URL's credentials stay out of messages even when it does
// not parse (a password may hold / or @).
func Redact(raw string) string {
	j := strings.Index(raw, "://")
	i := strings.LastIndex(raw, "@")
	if j < 0 || i < j {
		return raw
	}
	return raw[:j+3] + "REDACTED" + raw[i:]
}
