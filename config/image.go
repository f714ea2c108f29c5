package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// pathComponent is one component of a repository path in the OCI
// distribution spec's grammar: lower-case alphanumerics, separated by one
// '.' or '_', two '_', or any number of '-'.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// CheckImage reports whether ref is a repository an image policy can name:
// a registry host and path, no tag or digest. Docker Hub names may be
// short, as docker, Kubernetes and Flux write them (nginx, acme/web,
// docker.io/nginx), since a marker without suffix writes the policy's image
// as given; anything longer must name its registry host, so that a typo or
// a path such as /srv/web cannot quietly become a Docker Hub name.
func CheckImage(ref string) error {
	switch {
	case ref == "":
		return errors.New("is required")
	case strings.Contains(ref, "://"):
		return fmt.Errorf("%q must be a repository such as ghcr.io/acme/web, without a URL scheme", ref)
	case strings.ContainsAny(ref, "@ \t") || hasTag(ref):
		return fmt.Errorf("%q must be a repository without tag or digest", ref)
	}
	repo, err := name.NewRepository(ref, name.StrictValidation)
	if err != nil {
		host, path, found := strings.Cut(ref, "/")
		switch {
		case !found || !(host == "localhost" || strings.ContainsAny(host, ".:")):
			// A Docker Hub short name: NAME or NAMESPACE/NAME.
			hub := "docker.io/" + ref
			if !found {
				hub = "docker.io/library/" + ref
			}
			if strings.Count(ref, "/") <= 1 && CheckImage(hub) == nil {
				return nil
			}
			return fmt.Errorf("%q is not a repository REGISTRY/PATH such as ghcr.io/acme/web", ref)
		case (host == "docker.io" || host == "index.docker.io") && !strings.Contains(path, "/"):
			if CheckImage(host+"/library/"+path) == nil {
				return nil
			}
		}
		return fmt.Errorf("%q is not a valid repository: %v", ref, err)
	}
	if err := checkHost(repo.RegistryStr()); err != nil {
		return fmt.Errorf("%q: %v", ref, err)
	}
	for _, c := range strings.Split(repo.RepositoryStr(), "/") {
		if !pathComponent.MatchString(c) {
			if c == "" {
				return fmt.Errorf("%q has an empty path component", ref)
			}
			return fmt.Errorf("%q: path component %q must be lower-case letters and digits, separated by '.', '_', '__' or '-'", ref, c)
		}
	}
	return nil
}

// hasTag reports whether the last path component of ref carries a :tag.
func hasTag(ref string) bool {
	return strings.Contains(ref[strings.LastIndexByte(ref, '/')+1:], ":")
}

// hostName is a DNS name: labels of letters, digits and inner hyphens.
var hostName = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// checkHost checks a registry's host[:port]: a DNS name, an IPv4 address or
// a bracketed IPv6 address, and a port, if any, of 1 to 65535.
func checkHost(hostport string) error {
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host, port = hostport[:i], hostport[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("registry %q must have a port from 1 to 65535", hostport)
		}
	}
	if v6, ok := strings.CutPrefix(host, "["); ok {
		if ip, err := netip.ParseAddr(strings.TrimSuffix(v6, "]")); err != nil || !strings.HasSuffix(v6, "]") || !ip.Is6() {
			return fmt.Errorf("registry %q is not a host[:port]", hostport)
		}
		return nil
	}
	if !hostName.MatchString(host) {
		return fmt.Errorf("registry %q is not a host[:port]", hostport)
	}
	return nil
}
