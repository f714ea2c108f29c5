package githubfake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/imagebump/imagebump/test/forgefake"
)

// BotLogin is the login of the user the fake says created pull requests
// and comments through the API.
const BotLogin = forgefake.BotLogin

// Write is one write request the fake answered.
type Write = forgefake.Write

// PullRequest is the fake's state of one pull request.
type PullRequest = forgefake.PullRequest

// Server is the fake GitHub API for one repository. Its pull request
// state, write log and human helpers (HumanClose, HumanOpen, Merge) are
// forgefake's.
type Server struct {
	// URL is the API root to give go-github's WithEnterpriseURLs; the fake
	// answers under it and under "/" alike.
	URL         string
	Owner, Repo string
	// Base is the repository's default branch.
	Base string
	*forgefake.Store

	git   string
	token atomic.Pointer[string]
	// used counts requests for the X-RateLimit-* headers.
	used atomic.Int64
	// reset is when the fake's primary rate-limit window resets.
	reset time.Time

	// The strict behaviours below are switched by their methods; routes
	// read them under mu (routes also run under the Store's lock).
	mu            sync.Mutex
	collaborators []string // nil: anyone may be asked for a review
	privateFree   bool
	lag           forgefake.PushLag
	now           func() time.Time
	writeTimes    []TimedWrite

	issues forgefake.Issues
}

// MaxBody is the longest pull request body GitHub accepts, in characters:
// a longer one is refused with 422 "body is too long (maximum is 65536
// characters)" (seen by Renovate and create-pull-request, which cap theirs
// at 60,000 characters).
const MaxBody = 65536

// Collaborators makes the fake accept review requests only for users in
// users, as GitHub does: "Reviews may only be requested from
// collaborators" (422), and one user outside fails the whole request, so
// no reviewer is set. By default anyone is a collaborator.
func (s *Server) Collaborators(users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collaborators = users
}

// PrivateFree makes the repository a private one on GitHub Free or Pro,
// where opening a draft answers 422 "Draft pull requests are not
// supported in this repository." (GitHub's plans page: draft pull requests
// need a public repository or a paid organization plan).
func (s *Server) PrivateFree() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.privateFree = true
}

// PushLag makes a head branch the API has not seen at its current commit
// answer the first n pull request creations from it with 422 "No commits
// between BASE and HEAD", as github.com does while a just-pushed ref
// propagates (peter-evans/create-pull-request#1350 and Renovate's retry on
// it).
func (s *Server) PushLag(n int) {
	s.lag.Set(n)
}

// RequireToken makes the fake answer 401 to requests that do not carry
// token as a bearer token.
func (s *Server) RequireToken(token string) { s.token.Store(&token) }

// New starts a fake for owner/repo whose branches are the refs of the bare
// repository at gitDir, with base as the default branch. It stops when the
// test ends.
func New(t testing.TB, gitDir, owner, repo, base string) *Server {
	t.Helper()
	s := &Server{Owner: owner, Repo: repo, Base: base, git: gitDir, Store: forgefake.NewStore(t, "githubfake", gitDir, base)}
	s.DeletedHeadCloses = true
	auth := func(r *http.Request) bool {
		tok := s.token.Load()
		return tok == nil || *tok == "" || r.Header.Get("Authorization") == "Bearer "+*tok
	}
	deny := func(w http.ResponseWriter) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
	}
	s.reset = time.Now().Add(time.Hour)
	srv := httptest.NewServer(s.timeWrites(s.rateHeaders(s.Handler(auth, deny, s.serve))))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/api/v3/"
	return s
}

// rateHeaders adds the X-RateLimit-* headers GitHub sends on every
// response ("Checking the status of your rate limit", GitHub's REST rate
// limit documentation): the primary window's limit, what is left of it,
// and its reset, an hour after the fake started.
func (s *Server) rateHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		used := s.used.Add(1)
		h := w.Header()
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Remaining", strconv.FormatInt(max(5000-used, 1), 10))
		h.Set("X-RateLimit-Used", strconv.FormatInt(used, 10))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
		h.Set("X-RateLimit-Resource", "core")
		next.ServeHTTP(w, r)
	})
}

// SecondaryRateLimit answers the next n requests with GitHub's 403
// secondary rate limit and Retry-After: retryAfter seconds; a negative
// retryAfter sends none, which GitHub documents too ("If the retry-after
// response header is not present… wait for at least one minute"), with
// requests left in the primary window.
func (s *Server) SecondaryRateLimit(n, retryAfter int) {
	s.secondaryLimit(n, retryAfter, http.StatusForbidden)
}

// TooManyRequests answers the next n requests with 429, which GitHub's
// documentation lists beside 403 for primary and secondary limits alike
// and sends in practice for secondary ones, with Retry-After: retryAfter
// seconds (none when negative).
func (s *Server) TooManyRequests(n, retryAfter int) {
	s.secondaryLimit(n, retryAfter, http.StatusTooManyRequests)
}

// secondaryLimit answers the next n requests with GitHub's secondary
// rate limit under status, with Retry-After: retryAfter seconds (none
// when negative).
func (s *Server) secondaryLimit(n, retryAfter, status int) {
	s.Limit(n, func(w http.ResponseWriter) {
		if retryAfter >= 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		writeJSON(w, status, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	})
}

// PrimaryRateLimit answers the next n requests with GitHub's 403 primary
// rate limit, resetting at reset.
func (s *Server) PrimaryRateLimit(n int, reset time.Time) {
	s.Limit(n, func(w http.ResponseWriter) {
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "API rate limit exceeded for user ID 1.",
			"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
	})
}

// InitRepo creates a bare repository whose branch base holds files in one
// commit, and returns its path.
func InitRepo(t testing.TB, base string, files map[string]string) string {
	t.Helper()
	return forgefake.InitRepo(t, base, files)
}

// Git runs git in dir, failing the test on error, and returns its trimmed
// output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return forgefake.Git(t, dir, args...)
}

// CommitFiles is forgefake.CommitFiles: one commit as a human or as an
// in-test Branches implementation.
func CommitFiles(repo, parent, branch string, files map[string]string, email, message string) (string, error) {
	return forgefake.CommitFiles(repo, parent, branch, files, email, message)
}

var writeJSON = forgefake.WriteJSON

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

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3")
	if r.Method == http.MethodGet && path == "/user" {
		// The token's own user.
		writeJSON(w, http.StatusOK, map[string]any{"login": BotLogin, "id": 1, "type": "Bot"})
		return
	}
	prefix := "/repos/" + s.Owner + "/" + s.Repo
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		s.Unknown(w, r)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	num := func(i int) (*PullRequest, bool) {
		n, err := strconv.Atoi(parts[i])
		pr := s.Find(n)
		if err != nil || pr == nil {
			notFound(w)
			return nil, false
		}
		return pr, true
	}
	route := r.Method + " " + strings.Join(parts, "/")
	if s.serveIssues(w, r, parts) {
		return
	}
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
		if msg := s.reviewRefusal(pr, req.Reviewers, req.TeamReviewers); msg != "" {
			// One bad reviewer fails the whole request: none is set.
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request"})
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
		if _, ok := s.Ref(branch); !ok {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference does not exist"})
			return
		}
		s.DeleteBranch(branch)
		w.WriteHeader(http.StatusNoContent)
	default:
		s.Unknown(w, r)
	}
}

var decode, appendNew = forgefake.Decode, forgefake.AppendNew

// reviewRefusal is GitHub's 422 message for a review request naming the
// pull request's author, a user who is not a collaborator, or a team
// written as ORG/TEAM instead of its slug (GitHub's review-request
// documentation; Renovate's "reviewers" troubleshooting), or "" when the
// request is accepted.
func (s *Server) reviewRefusal(pr *PullRequest, users, teams []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		if strings.EqualFold(u, pr.User) {
			return "Review cannot be requested from pull request author."
		}
		if s.collaborators != nil && !slices.ContainsFunc(s.collaborators, func(c string) bool { return strings.EqualFold(c, u) }) {
			return "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the " + s.Owner + "/" + s.Repo + " repository."
		}
	}
	for _, t := range teams {
		if strings.Contains(t, "/") {
			return "Reviews may only be requested from collaborators. One or more of the teams you specified is not a collaborator of the " + s.Owner + "/" + s.Repo + " repository."
		}
	}
	return ""
}

// bodyTooLong answers GitHub's refusal of a body above MaxBody characters
// and reports whether it did.
func bodyTooLong(w http.ResponseWriter, body string) bool {
	if utf8.RuneCountInString(body) <= MaxBody {
		return false
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors":  []map[string]string{{"resource": "Issue", "code": "custom", "field": "body", "message": fmt.Sprintf("body is too long (maximum is %d characters)", MaxBody)}},
	})
	return true
}

func labelsJSON(labels []string) []map[string]string {
	out := []map[string]string{}
	for _, l := range labels {
		out = append(out, map[string]string{"name": l})
	}
	return out
}

func (s *Server) render(pr *PullRequest) map[string]any {
	base, _ := s.Ref(pr.Base)
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
	p := forgefake.Paginate(r, "per_page", 30, 100, n, item)
	forgefake.LinkNext(w, r, p.Next)
	writeJSON(w, http.StatusOK, p.Items)
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
			s.Errorf("head=%q without owner: GitHub wants user:ref-name", h)
		}
		if owner != s.Owner {
			s.page(w, r, 0, nil)
			return
		}
		head = branch
	}
	var match []*PullRequest
	all := s.All()
	for i := len(all) - 1; i >= 0; i-- { // newest first, as GitHub sorts by default
		pr := all[i]
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
		s.Errorf("cross-repository head %q not supported", req.Head)
	}
	if req.Title == "" {
		validation(w, "title is missing")
		return
	}
	if bodyTooLong(w, req.Body) {
		return
	}
	head, ok := s.Ref(req.Head)
	if !ok {
		invalidField(w, "head")
		return
	}
	base, ok := s.Ref(req.Base)
	if !ok {
		invalidField(w, "base")
		return
	}
	if s.Ancestor(head, base) || s.lag.Lagging(req.Head, head) {
		validation(w, fmt.Sprintf("No commits between %s and %s", req.Base, req.Head))
		return
	}
	s.mu.Lock()
	refused := req.Draft && s.privateFree
	s.mu.Unlock()
	if refused {
		validation(w, "Draft pull requests are not supported in this repository.")
		return
	}
	for _, pr := range s.All() {
		if pr.State == "open" && pr.Head == req.Head && pr.Base == req.Base {
			validation(w, fmt.Sprintf("A pull request already exists for %s:%s.", s.Owner, req.Head))
			return
		}
	}
	pr := s.Add(&PullRequest{Title: req.Title, Body: req.Body, Draft: req.Draft, State: "open", Head: req.Head, HeadSHA: head, Base: req.Base, User: BotLogin})
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
	if req.Body != nil && bodyTooLong(w, *req.Body) {
		return
	}
	if req.Base != nil && *req.Base != pr.Base {
		s.Errorf("changing a pull request's base is not supported")
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
			if _, ok := s.Ref(pr.Head); !ok || pr.Merged {
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
