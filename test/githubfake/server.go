package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BotLogin is the login of the user the fake says created pull requests
// and comments through the API.
const BotLogin = "imagebump-bot"

// Write is one write request the fake answered.
type Write struct {
	Method string
	Path   string
	Status int
}

// PullRequest is the fake's state of one pull request.
type PullRequest struct {
	Number        int
	Title, Body   string
	State         string // open or closed
	Draft         bool
	Merged        bool
	Head, HeadSHA string
	Base          string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	User          string
	Comments      []string
}

// Server is the fake GitHub API for one repository.
type Server struct {
	// URL is the API root to give go-github's WithEnterpriseURLs; the fake
	// answers under it and under "/" alike.
	URL         string
	Owner, Repo string
	// Base is the repository's default branch.
	Base string

	t     testing.TB
	git   string
	srv   *httptest.Server
	mu    sync.Mutex
	prs   []*PullRequest
	log   []Write
	lim   int
	resp  func(w http.ResponseWriter)
	token string
	fail  map[string]int // "METHOD path" → status of its next answer

	ancestry map[string]bool
}

// FailOnce answers the next request to method and path (as go-github
// sends it, e.g. "/api/v3/repos/acme/fleet/pulls/1") with status, doing
// nothing.
func (s *Server) FailOnce(method, path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]int{}
	}
	s.fail[method+" "+path] = status
}

// RequireToken makes the fake answer 401 to requests that do not carry
// token as a bearer token.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// New starts a fake for owner/repo whose branches are the refs of the bare
// repository at gitDir, with base as the default branch. It stops when the
// test ends.
func New(t testing.TB, gitDir, owner, repo, base string) *Server {
	t.Helper()
	requireGit(t)
	s := &Server{Owner: owner, Repo: repo, Base: base, t: t, git: gitDir}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL + "/api/v3/"
	return s
}

// Writes returns the write requests answered so far, rate-limited ones
// left out.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// SecondaryRateLimit answers the next n requests with GitHub's 403
// secondary rate limit and Retry-After: retryAfter seconds.
func (s *Server) SecondaryRateLimit(n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim = n
	s.resp = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	}
}

// PrimaryRateLimit answers the next n requests with GitHub's 403 primary
// rate limit, resetting at reset.
func (s *Server) PrimaryRateLimit(n int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim = n
	s.resp = func(w http.ResponseWriter) {
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "API rate limit exceeded for user ID 1.",
			"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
	}
}

// PullRequest returns a copy of pull request n, synced with the branches.
func (s *Server) PullRequest(n int) PullRequest {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync()
	pr := s.find(n)
	if pr == nil {
		s.t.Fatalf("githubfake: no pull request #%d", n)
	}
	c := *pr
	return c
}

// PullRequests returns copies of every pull request, oldest first.
func (s *Server) PullRequests() []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync()
	var out []PullRequest
	for _, pr := range s.prs {
		out = append(out, *pr)
	}
	return out
}

// HumanClose closes pull request n as a human would, without merging.
func (s *Server) HumanClose(n int) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync()
	pr := s.find(n)
	if pr == nil || pr.State != "open" {
		s.t.Fatalf("githubfake: HumanClose(%d): no open pull request", n)
	}
	pr.State = "closed"
}

// HumanOpen opens a pull request as a human, from an existing branch.
func (s *Server) HumanOpen(head, title, body string) int {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.ref(head)
	if !ok {
		s.t.Fatalf("githubfake: HumanOpen: no branch %s", head)
	}
	pr := &PullRequest{Number: s.next(), Title: title, Body: body, State: "open", Head: head, HeadSHA: sha, Base: s.Base, User: "human"}
	s.prs = append(s.prs, pr)
	return pr.Number
}

// Merge merges pull request n by fast-forwarding its base branch to its
// head in the git repository.
func (s *Server) Merge(n int) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync()
	pr := s.find(n)
	if pr == nil || pr.State != "open" {
		s.t.Fatalf("githubfake: Merge(%d): no open pull request", n)
	}
	base, _ := s.ref(pr.Base)
	if _, err := gitIn(s.git, nil, nil, "merge-base", "--is-ancestor", base, pr.HeadSHA); err != nil {
		s.t.Fatalf("githubfake: Merge(%d): %s is not a fast-forward of %s", n, pr.Head, pr.Base)
	}
	if _, err := gitIn(s.git, nil, nil, "update-ref", "refs/heads/"+pr.Base, pr.HeadSHA, base); err != nil {
		s.t.Fatalf("githubfake: Merge(%d): %v", n, err)
	}
	pr.State, pr.Merged = "closed", true
}

func (s *Server) next() int { return len(s.prs) + 1 }

func (s *Server) find(n int) *PullRequest {
	if n < 1 || n > len(s.prs) {
		return nil
	}
	return s.prs[n-1]
}

// ref returns the commit branch points at in the git repository.
func (s *Server) ref(branch string) (string, bool) {
	sha, err := gitIn(s.git, nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	return sha, err == nil && sha != ""
}

// refs reads every branch in one git call.
func (s *Server) refs() map[string]string {
	out, err := gitIn(s.git, nil, nil, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
	if err != nil {
		s.t.Errorf("githubfake: reading branches: %v", err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if sha, name, ok := strings.Cut(line, " "); ok {
			refs[strings.TrimPrefix(name, "refs/heads/")] = sha
		}
	}
	return refs
}

// sync makes open pull requests follow the repository as GitHub does: the
// head sha follows the branch, a deleted head closes the pull request, and
// a head that reached the base marks it merged.
func (s *Server) sync() {
	if !slices.ContainsFunc(s.prs, func(pr *PullRequest) bool { return pr.State == "open" }) {
		return
	}
	refs := s.refs()
	for _, pr := range s.prs {
		if pr.State != "open" {
			continue
		}
		sha, ok := refs[pr.Head]
		if !ok {
			pr.State = "closed"
			continue
		}
		pr.HeadSHA = sha
		if base, ok := refs[pr.Base]; ok && s.ancestor(sha, base) {
			pr.State, pr.Merged = "closed", true
		}
	}
}

// ancestor reports whether commit a is an ancestor of commit b (or b
// itself). Commits never change, so answers are kept.
func (s *Server) ancestor(a, b string) bool {
	key := a + ".." + b
	if v, ok := s.ancestry[key]; ok {
		return v
	}
	_, err := gitIn(s.git, nil, nil, "merge-base", "--is-ancestor", a, b)
	if s.ancestry == nil {
		s.ancestry = map[string]bool{}
	}
	s.ancestry[key] = err == nil
	return err == nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func validation(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors":  []map[string]string{{"resource": "PullRequest", "code": "custom", "message": msg}},
	})
}

// invalidField answers as GitHub does when a pull request names a head or
// base branch that does not exist.
func invalidField(w http.ResponseWriter, field string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors":  []map[string]string{{"resource": "PullRequest", "field": field, "code": "invalid"}},
	})
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

// statusWriter remembers the status for the write log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(rw http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		writeJSON(rw, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	if s.lim > 0 {
		s.lim--
		s.resp(rw)
		return
	}
	if status, ok := s.fail[r.Method+" "+r.URL.Path]; ok {
		delete(s.fail, r.Method+" "+r.URL.Path)
		writeJSON(rw, status, map[string]string{"message": "injected failure"})
		return
	}
	w := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
	if r.Method != http.MethodGet {
		defer func() { s.log = append(s.log, Write{r.Method, r.URL.Path, w.status}) }()
	}
	s.sync()

	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3")
	prefix := "/repos/" + s.Owner + "/" + s.Repo
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		s.unknown(w, r)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	num := func(i int) (*PullRequest, bool) {
		n, err := strconv.Atoi(parts[i])
		pr := s.find(n)
		if err != nil || pr == nil {
			notFound(w)
			return nil, false
		}
		return pr, true
	}
	route := r.Method + " " + strings.Join(parts, "/")
	switch {
	case route == "GET ":
		writeJSON(w, http.StatusOK, map[string]any{
			"name": s.Repo, "full_name": s.Owner + "/" + s.Repo, "default_branch": s.Base,
			"owner": map[string]string{"login": s.Owner},
		})
	case route == "GET pulls":
		s.list(w, r)
	case route == "POST pulls":
		s.create(w, r)
	case len(parts) == 2 && parts[0] == "pulls" && (r.Method == http.MethodGet || r.Method == http.MethodPatch):
		pr, ok := num(1)
		if !ok {
			return
		}
		if r.Method == http.MethodPatch {
			s.edit(w, r, pr)
			return
		}
		writeJSON(w, http.StatusOK, s.render(pr))
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "pulls" && parts[2] == "requested_reviewers":
		pr, ok := num(1)
		if !ok {
			return
		}
		var req struct {
			Reviewers     []string `json:"reviewers"`
			TeamReviewers []string `json:"team_reviewers"`
		}
		if !decode(w, r, &req) {
			return
		}
		pr.Reviewers = appendNew(pr.Reviewers, req.Reviewers...)
		pr.TeamReviewers = appendNew(pr.TeamReviewers, req.TeamReviewers...)
		writeJSON(w, http.StatusCreated, s.render(pr))
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "issues" && parts[2] == "labels":
		pr, ok := num(1)
		if !ok {
			return
		}
		var labels []string
		if !decode(w, r, &labels) {
			return
		}
		pr.Labels = appendNew(pr.Labels, labels...)
		writeJSON(w, http.StatusOK, labelsJSON(pr.Labels))
	case len(parts) == 3 && parts[0] == "issues" && parts[2] == "comments" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		pr, ok := num(1)
		if !ok {
			return
		}
		if r.Method == http.MethodGet {
			var out []map[string]any
			for i, c := range pr.Comments {
				out = append(out, map[string]any{"id": pr.Number*1000 + i, "body": c, "user": map[string]string{"login": BotLogin}})
			}
			s.page(w, r, len(out), func(i int) any { return out[i] })
			return
		}
		var req struct {
			Body string `json:"body"`
		}
		if !decode(w, r, &req) {
			return
		}
		pr.Comments = append(pr.Comments, req.Body)
		writeJSON(w, http.StatusCreated, map[string]any{"id": pr.Number*1000 + len(pr.Comments) - 1, "body": req.Body, "user": map[string]string{"login": BotLogin}})
	case r.Method == http.MethodDelete && len(parts) >= 4 && parts[0] == "git" && parts[1] == "refs" && parts[2] == "heads":
		branch, err := url.PathUnescape(strings.Join(parts[3:], "/"))
		if err != nil {
			notFound(w)
			return
		}
		if _, ok := s.ref(branch); !ok {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference does not exist"})
			return
		}
		if _, err := gitIn(s.git, nil, nil, "update-ref", "-d", "refs/heads/"+branch); err != nil {
			s.t.Errorf("githubfake: deleting %s: %v", branch, err)
		}
		s.sync()
		w.WriteHeader(http.StatusNoContent)
	default:
		s.unknown(w, r)
	}
}

func (s *Server) unknown(w http.ResponseWriter, r *http.Request) {
	s.t.Errorf("githubfake: unknown endpoint %s %s", r.Method, r.URL.Path)
	notFound(w)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON: " + err.Error()})
		return false
	}
	return true
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func labelsJSON(labels []string) []map[string]string {
	out := []map[string]string{}
	for _, l := range labels {
		out = append(out, map[string]string{"name": l})
	}
	return out
}

func (s *Server) render(pr *PullRequest) map[string]any {
	base, _ := s.ref(pr.Base)
	var reviewers, teams []map[string]string
	for _, r := range pr.Reviewers {
		reviewers = append(reviewers, map[string]string{"login": r})
	}
	for _, t := range pr.TeamReviewers {
		teams = append(teams, map[string]string{"slug": t})
	}
	out := map[string]any{
		"number":   pr.Number,
		"state":    pr.State,
		"title":    pr.Title,
		"body":     pr.Body,
		"draft":    pr.Draft,
		"merged":   pr.Merged,
		"html_url": fmt.Sprintf("https://github.com/%s/%s/pull/%d", s.Owner, s.Repo, pr.Number),
		"user":     map[string]string{"login": pr.User},
		"head":     map[string]string{"ref": pr.Head, "sha": pr.HeadSHA, "label": s.Owner + ":" + pr.Head},
		"base":     map[string]string{"ref": pr.Base, "sha": base, "label": s.Owner + ":" + pr.Base},
		"labels":   labelsJSON(pr.Labels),

		"requested_reviewers": reviewers,
		"requested_teams":     teams,
	}
	if pr.Merged {
		out["merged_at"] = "2026-01-01T00:00:00Z"
	}
	return out
}

// page writes items n of a listing, honouring per_page and page and
// linking the next page as GitHub does.
func (s *Server) page(w http.ResponseWriter, r *http.Request, n int, item func(int) any) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	out := []any{}
	for i := (page - 1) * per; i < n && i < page*per; i++ {
		out = append(out, item(i))
	}
	if page*per < n {
		next := *r.URL
		q.Set("page", strconv.Itoa(page+1))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, next.String()))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		validation(w, "state must be open, closed or all")
		return
	}
	var head string
	if h := q.Get("head"); h != "" {
		owner, branch, ok := strings.Cut(h, ":")
		if !ok {
			s.t.Errorf("githubfake: head=%q without owner: GitHub wants user:ref-name", h)
		}
		if owner != s.Owner {
			s.page(w, r, 0, nil)
			return
		}
		head = branch
	}
	var match []*PullRequest
	for i := len(s.prs) - 1; i >= 0; i-- { // newest first, as GitHub sorts by default
		pr := s.prs[i]
		if (state == "all" || pr.State == state) && (head == "" || pr.Head == head) && (q.Get("base") == "" || pr.Base == q.Get("base")) {
			match = append(match, pr)
		}
	}
	s.page(w, r, len(match), func(i int) any { return s.render(match[i]) })
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if !decode(w, r, &req) {
		return
	}
	if strings.Contains(req.Head, ":") {
		s.t.Errorf("githubfake: cross-repository head %q not supported", req.Head)
	}
	if req.Title == "" {
		validation(w, "title is missing")
		return
	}
	head, ok := s.ref(req.Head)
	if !ok {
		invalidField(w, "head")
		return
	}
	base, ok := s.ref(req.Base)
	if !ok {
		invalidField(w, "base")
		return
	}
	if s.ancestor(head, base) {
		validation(w, fmt.Sprintf("No commits between %s and %s", req.Base, req.Head))
		return
	}
	for _, pr := range s.prs {
		if pr.State == "open" && pr.Head == req.Head && pr.Base == req.Base {
			validation(w, fmt.Sprintf("A pull request already exists for %s:%s.", s.Owner, req.Head))
			return
		}
	}
	pr := &PullRequest{Number: s.next(), Title: req.Title, Body: req.Body, Draft: req.Draft, State: "open", Head: req.Head, HeadSHA: head, Base: req.Base, User: BotLogin}
	s.prs = append(s.prs, pr)
	writeJSON(w, http.StatusCreated, s.render(pr))
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request, pr *PullRequest) {
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Base != nil && *req.Base != pr.Base {
		s.t.Errorf("githubfake: changing a pull request's base is not supported")
	}
	if req.State != nil {
		switch *req.State {
		case "closed":
			if pr.Merged {
				validation(w, "merged pull requests cannot be closed")
				return
			}
			pr.State = "closed"
		case "open":
			if _, ok := s.ref(pr.Head); !ok || pr.Merged {
				validation(w, "state cannot be changed. The "+pr.Head+" branch has been deleted.")
				return
			}
			pr.State = "open"
		default:
			validation(w, "state must be open or closed")
			return
		}
	}
	if req.Title != nil {
		pr.Title = *req.Title
	}
	if req.Body != nil {
		pr.Body = *req.Body
	}
	writeJSON(w, http.StatusOK, s.render(pr))
}
