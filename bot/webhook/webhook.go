package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Source is a kind of sender: how it signs and what its payload says.
type Source string

// The sources.
const (
	Distribution Source = "distribution" // the distribution notification envelope (docker-registry, notifications.endpoints)
	DockerHub    Source = "dockerhub"
	Harbor       Source = "harbor"
	Quay         Source = "quay"
	GitHub       Source = "github" // package and registry_package, push and pull_request
	GitLab       Source = "gitlab" // Push Hook, Tag Push Hook and Merge Request Hook
	Gitea        Source = "gitea"  // push and pull_request
)

// Sources lists every Source, in the order the README gives them.
var Sources = []Source{Distribution, DockerHub, Harbor, Quay, GitHub, GitLab, Gitea}

// Valid reports whether s is one of Sources.
func (s Source) Valid() bool { return slices.Contains(Sources, s) }

// PathSecret reports whether the sender cannot sign, so that the secret is
// a segment of the URL path (Docker Hub).
func (s Source) PathSecret() bool { return s == DockerHub }

// Event is what a notification hints at. Images are repositories as the
// sender names them (host/path, or path alone on Docker Hub), without tag
// or digest; Repositories are the URLs of a git repository (clone URLs
// and web page) as the forge gives them. An event with neither is
// accepted and does nothing (a ping, a pull event, a tag deletion).
type Event struct {
	Source       Source
	Kind         string // the sender's event type, e.g. "push", "Merge Request Hook", "PUSH_ARTIFACT"
	Images       []string
	Repositories []string
}

// ErrUnauthorized is returned by Verify for a missing or wrong secret or
// signature. Its text is all a sender is told.
var ErrUnauthorized = errors.New("unauthorized")

// Verify checks that a request from s carries secret: in the signature of
// body (HMAC-SHA256, GitHub's X-Hub-Signature-256 or Gitea's
// X-Gitea-Signature), the X-Gitlab-Token header, an Authorization: Bearer
// header (distribution, Harbor, Quay), or pathSecret, the path segment a
// Docker Hub webhook URL carries. Every comparison takes constant time.
// An empty secret never verifies.
func Verify(s Source, h http.Header, pathSecret string, body, secret []byte) error {
	if len(secret) == 0 {
		return ErrUnauthorized
	}
	var ok bool
	switch s {
	case GitHub:
		sig, found := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
		ok = found && hmacEqual(sig, body, secret)
	case Gitea:
		ok = hmacEqual(h.Get("X-Gitea-Signature"), body, secret)
	case GitLab:
		ok = equal([]byte(h.Get("X-Gitlab-Token")), secret)
	case Distribution, Harbor, Quay:
		tok, found := cutPrefixFold(h.Get("Authorization"), "Bearer ")
		ok = found && equal([]byte(tok), secret)
	case DockerHub:
		ok = equal([]byte(pathSecret), secret)
	}
	if !ok {
		return ErrUnauthorized
	}
	return nil
}

func hmacEqual(sigHex string, body, secret []byte) bool {
	got, err := hex.DecodeString(sigHex)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// equal compares in time that depends only on the lengths.
func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(s[len(prefix):]), true
}

// Parse reads the body of a notification from s; h gives the event type
// where the sender puts it in a header (GitHub, GitLab, Gitea). A body
// that is not the sender's JSON is an error; an event type the bot has no
// use for is an Event with nothing in it.
func Parse(s Source, h http.Header, body []byte) (Event, error) {
	ev := Event{Source: s}
	var err error
	switch s {
	case Distribution:
		err = parseDistribution(&ev, body)
	case DockerHub:
		err = parseDockerHub(&ev, body)
	case Harbor:
		err = parseHarbor(&ev, body)
	case Quay:
		err = parseQuay(&ev, body)
	case GitHub:
		ev.Kind = h.Get("X-GitHub-Event")
		err = parseGitHub(&ev, body)
	case GitLab:
		ev.Kind = h.Get("X-Gitlab-Event")
		err = parseGitLab(&ev, body)
	case Gitea:
		ev.Kind = h.Get("X-Gitea-Event")
		err = parseGitea(&ev, body)
	default:
		return Event{}, fmt.Errorf("unknown source %q", s)
	}
	if err != nil {
		return Event{}, fmt.Errorf("reading a %s notification: %w", s, err)
	}
	ev.Images = dedup(ev.Images)
	ev.Repositories = dedup(ev.Repositories)
	return ev, nil
}

func dedup(s []string) []string {
	out := s[:0]
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// decode unmarshals body into v, which must be a JSON object.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	return nil
}

// parseDistribution reads the envelope {"events": [...]} of
// distribution's notifications: a push of a manifest names the
// repository on the registry that received it (request.host).
func parseDistribution(ev *Event, body []byte) error {
	var env struct {
		Events *[]struct {
			Action string `json:"action"`
			Target struct {
				MediaType  string `json:"mediaType"`
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
	}
	if err := decode(body, &env); err != nil {
		return err
	}
	if env.Events == nil {
		return errors.New(`no "events" array`)
	}
	ev.Kind = "events"
	for _, e := range *env.Events {
		// Blob pushes precede the manifest's; only a manifest makes a
		// tag. Pulls and deletions change nothing to choose from.
		manifest := e.Target.Tag != "" || strings.Contains(e.Target.MediaType, "manifest") || strings.Contains(e.Target.MediaType, "index")
		if e.Action != "push" || e.Target.Repository == "" || !manifest {
			continue
		}
		img := e.Target.Repository
		if e.Request.Host != "" {
			img = e.Request.Host + "/" + img
		}
		ev.Images = append(ev.Images, img)
	}
	return nil
}

// parseDockerHub reads Docker Hub's {"push_data": ..., "repository":
// {"repo_name": "acme/web"}}.
func parseDockerHub(ev *Event, body []byte) error {
	var p struct {
		Repository *struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := decode(body, &p); err != nil {
		return err
	}
	if p.Repository == nil || p.Repository.RepoName == "" {
		return errors.New("no repository.repo_name")
	}
	ev.Kind = "push"
	ev.Images = []string{"docker.io/" + p.Repository.RepoName}
	return nil
}

// parseHarbor reads Harbor's {"type": "PUSH_ARTIFACT", "event_data":
// {"resources": [{"resource_url": "host/project/repo:tag"}]}}.
func parseHarbor(ev *Event, body []byte) error {
	var p struct {
		Type      string `json:"type"`
		EventData *struct {
			Resources []struct {
				ResourceURL string `json:"resource_url"`
			} `json:"resources"`
		} `json:"event_data"`
	}
	if err := decode(body, &p); err != nil {
		return err
	}
	if p.Type == "" || p.EventData == nil {
		return errors.New("no type or event_data")
	}
	ev.Kind = p.Type
	if p.Type != "PUSH_ARTIFACT" {
		return nil
	}
	for _, r := range p.EventData.Resources {
		ev.Images = append(ev.Images, StripTag(r.ResourceURL))
	}
	return nil
}

// parseQuay reads Quay's repository push notification: {"docker_url":
// "quay.io/acme/web", "updated_tags": [...]}.
func parseQuay(ev *Event, body []byte) error {
	var p struct {
		DockerURL string `json:"docker_url"`
	}
	if err := decode(body, &p); err != nil {
		return err
	}
	if p.DockerURL == "" {
		return errors.New("no docker_url")
	}
	ev.Kind = "repo_push"
	ev.Images = []string{StripTag(p.DockerURL)}
	return nil
}

// gitRepository is the repository object of GitHub and Gitea payloads.
type gitRepository struct {
	CloneURL string `json:"clone_url"`
	SSHURL   string `json:"ssh_url"`
	HTMLURL  string `json:"html_url"`
}

func (r *gitRepository) urls() []string {
	if r == nil {
		return nil
	}
	return []string{r.CloneURL, r.SSHURL, r.HTMLURL}
}

// parseGitHub reads GitHub's package and registry_package events (a
// container published on ghcr.io), push and pull_request.
func parseGitHub(ev *Event, body []byte) error {
	var p struct {
		Repository *gitRepository `json:"repository"`
		Package    *githubPackage `json:"package"`
		RegPackage *githubPackage `json:"registry_package"`
	}
	if err := decode(body, &p); err != nil {
		return err
	}
	switch ev.Kind {
	case "package", "registry_package":
		pkg := p.Package
		if ev.Kind == "registry_package" {
			pkg = p.RegPackage
		}
		if pkg == nil {
			return fmt.Errorf("no %q object", ev.Kind)
		}
		if img := pkg.image(); img != "" {
			ev.Images = []string{img}
		}
	case "push", "pull_request":
		if p.Repository == nil {
			return errors.New("no repository")
		}
		ev.Repositories = p.Repository.urls()
	}
	return nil
}

type githubPackage struct {
	PackageType string `json:"package_type"`
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	Owner       struct {
		Login string `json:"login"`
	} `json:"owner"`
	PackageVersion *struct {
		PackageURL string `json:"package_url"`
	} `json:"package_version"`
}

// image is the ghcr.io repository of a container package, or "".
func (p *githubPackage) image() string {
	if !strings.EqualFold(p.PackageType, "container") && !strings.EqualFold(p.PackageType, "docker") {
		return ""
	}
	if v := p.PackageVersion; v != nil && v.PackageURL != "" {
		return StripTag(v.PackageURL)
	}
	owner := p.Namespace
	if owner == "" {
		owner = p.Owner.Login
	}
	if owner == "" || p.Name == "" {
		return ""
	}
	return strings.ToLower("ghcr.io/" + owner + "/" + p.Name)
}

// parseGitLab reads GitLab's Push Hook, Tag Push Hook and Merge Request
// Hook.
func parseGitLab(ev *Event, body []byte) error {
	var p struct {
		Project *struct {
			GitHTTPURL string `json:"git_http_url"`
			GitSSHURL  string `json:"git_ssh_url"`
			WebURL     string `json:"web_url"`
		} `json:"project"`
	}
	if err := decode(body, &p); err != nil {
		return err
	}
	switch ev.Kind {
	case "Push Hook", "Merge Request Hook":
		if p.Project == nil {
			return errors.New("no project")
		}
		ev.Repositories = []string{p.Project.GitHTTPURL, p.Project.GitSSHURL, p.Project.WebURL}
	}
	return nil
}

// parseGitea reads Gitea's (and Forgejo's) push and pull_request events.
func parseGitea(ev *Event, body []byte) error {
	var p struct {
		Repository *gitRepository `json:"repository"`
	}
	if err := decode(body, &p); err != nil {
		return err
	}
	switch ev.Kind {
	case "push", "pull_request":
		if p.Repository == nil {
			return errors.New("no repository")
		}
		ev.Repositories = p.Repository.urls()
	}
	return nil
}

// StripTag returns ref without its tag or digest: "host:5000/a/b:1.0" and
// "host:5000/a/b@sha256:…" are "host:5000/a/b".
func StripTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
