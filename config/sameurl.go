package config

import (
	"net/url"
	"strings"
)

// SameRepository reports whether two git URLs name the same repository on
// the same host, whatever their forms: https://HOST/OWNER/REPO(.git),
// ssh://git@HOST(:PORT)/OWNER/REPO(.git) and git@HOST:OWNER/REPO(.git) of
// one repository are the same; hosts and paths compare without regard to
// case (GitHub's paths are case-insensitive), ports and users are not
// compared. ok is false when either URL cannot be read (a Flux
// substitution such as ${ORG} in it, or no host): the caller cannot tell.
func SameRepository(a, b string) (same, ok bool) {
	ha, pa, oka := hostPath(a)
	hb, pb, okb := hostPath(b)
	if !oka || !okb {
		return false, false
	}
	return ha == hb && pa == pb, true
}

// hostPath is a git URL's host and repository path, lowercased, the path
// without slashes around it and without .git.
func hostPath(raw string) (host, path string, ok bool) {
	if raw == "" || strings.Contains(raw, "${") {
		return "", "", false
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		host, path = u.Hostname(), u.Path
	} else if at, rest, found := strings.Cut(raw, ":"); found && strings.Contains(at, "@") && !strings.Contains(at, "/") {
		host, path = at[strings.LastIndexByte(at, '@')+1:], rest // scp-like
	} else {
		return "", "", false
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if host == "" || path == "" {
		return "", "", false
	}
	return strings.ToLower(host), strings.ToLower(path), true
}
