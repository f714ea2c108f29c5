package forgefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// BotLogin is the user the fakes say created pull requests and comments
// through the API.
const BotLogin = "imagebump-bot"

// Write is one write request a fake answered.
type Write struct {
	Method string
	Path   string
	Status int
}

// PullRequest is a fake's state of one pull (or merge) request, in
// GitHub's terms: State is open or closed, and Merged tells a merged one
// from one closed unmerged.
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

// Store is the state of one fake repository: its pull requests, the bare
// git repository whose refs are its branches, its write log and the
// faults to inject. A fake's routes run under Store's lock (Handler takes
// it) and use the methods without a "Human" or exported-state meaning;
// tests use the locking ones.
type Store struct {
	// Base is the repository's default branch.
	Base string
	// DeletedHeadCloses makes a pull request whose head branch is deleted
	// closed, as GitHub does; GitLab and Gitea keep it open.
	DeletedHeadCloses bool

	t        testing.TB
	git      string
	name     string // for messages: "githubfake"
	mu       sync.Mutex
	prs      []*PullRequest
	log      []Write
	lim      int
	limResp  func(w http.ResponseWriter)
	fail     map[string]int // "METHOD escaped-path" → status of its next answer
	ancestry map[string]bool
}

// NewStore returns the state of a fake named name (for messages) whose
// branches are the refs of the bare repository at gitDir.
func NewStore(t testing.TB, name, gitDir, base string) *Store {
	t.Helper()
	RequireGit(t)
	return &Store{Base: base, t: t, git: gitDir, name: name}
}

// Handler serves route under the store's lock, after checking auth (deny
// writes the forge's refusal), answering injected rate limits and
// failures, and bringing pull requests in line with the branches. Write
// requests (anything but GET and HEAD) are logged with their status;
// rate-limited and injected-failure answers are not.
func (s *Store) Handler(auth func(*http.Request) bool, deny func(http.ResponseWriter), route func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !auth(r) {
			deny(rw)
			return
		}
		if s.lim > 0 {
			s.lim--
			s.limResp(rw)
			return
		}
		key := r.Method + " " + r.URL.EscapedPath()
		if status, ok := s.fail[key]; ok {
			delete(s.fail, key)
			WriteJSON(rw, status, map[string]string{"message": "injected failure"})
			return
		}
		w := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			defer func() { s.log = append(s.log, Write{r.Method, r.URL.EscapedPath(), w.status}) }()
		}
		s.Sync()
		route(w, r)
	})
}

// Unknown fails the test for an endpoint the fake does not serve and
// answers 404.
func (s *Store) Unknown(w http.ResponseWriter, r *http.Request) {
	s.t.Errorf("%s: unknown endpoint %s %s", s.name, r.Method, r.URL.EscapedPath())
	WriteJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
}

// Errorf reports a misuse of the fake by the client under test.
func (s *Store) Errorf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf(s.name+": "+format, args...)
}

// Writes returns the write requests answered so far.
func (s *Store) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Limit answers the next n requests with resp, the forge's rate-limit
// answer.
func (s *Store) Limit(n int, resp func(w http.ResponseWriter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim, s.limResp = n, resp
}

// FailOnce answers the next request to method and path (escaped, as the
// client sends it) with status, doing nothing.
func (s *Store) FailOnce(method, path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]int{}
	}
	s.fail[method+" "+path] = status
}

// PullRequest returns a copy of pull request n, synced with the branches.
func (s *Store) PullRequest(n int) PullRequest {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Sync()
	pr := s.Find(n)
	if pr == nil {
		s.t.Fatalf("%s: no pull request #%d", s.name, n)
	}
	return clone(pr)
}

// PullRequests returns copies of every pull request, oldest first.
func (s *Store) PullRequests() []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Sync()
	var out []PullRequest
	for _, pr := range s.prs {
		out = append(out, clone(pr))
	}
	return out
}

func clone(pr *PullRequest) PullRequest {
	c := *pr
	c.Labels, c.Reviewers, c.TeamReviewers, c.Comments = slices.Clone(c.Labels), slices.Clone(c.Reviewers), slices.Clone(c.TeamReviewers), slices.Clone(c.Comments)
	return c
}

// HumanClose closes pull request n as a human would, without merging.
func (s *Store) HumanClose(n int) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Sync()
	pr := s.Find(n)
	if pr == nil || pr.State != "open" {
		s.t.Fatalf("%s: HumanClose(%d): no open pull request", s.name, n)
	}
	pr.State = "closed"
}

// HumanOpen opens a pull request as a human, from an existing branch.
func (s *Store) HumanOpen(head, title, body string) int {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.Ref(head)
	if !ok {
		s.t.Fatalf("%s: HumanOpen: no branch %s", s.name, head)
	}
	return s.Add(&PullRequest{Title: title, Body: body, State: "open", Head: head, HeadSHA: sha, Base: s.Base, User: "human"}).Number
}

// Merge merges pull request n by fast-forwarding its base branch to its
// head in the git repository.
func (s *Store) Merge(n int) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Sync()
	pr := s.Find(n)
	if pr == nil || pr.State != "open" {
		s.t.Fatalf("%s: Merge(%d): no open pull request", s.name, n)
	}
	base, _ := s.Ref(pr.Base)
	if !s.Ancestor(base, pr.HeadSHA) {
		s.t.Fatalf("%s: Merge(%d): %s is not a fast-forward of %s", s.name, n, pr.Head, pr.Base)
	}
	if _, err := gitIn(s.git, nil, nil, "update-ref", "refs/heads/"+pr.Base, pr.HeadSHA, base); err != nil {
		s.t.Fatalf("%s: Merge(%d): %v", s.name, n, err)
	}
	pr.State, pr.Merged = "closed", true
}

// Add stores a new pull request, numbering it, and returns it. Routes
// call it under the lock.
func (s *Store) Add(pr *PullRequest) *PullRequest {
	pr.Number = len(s.prs) + 1
	s.prs = append(s.prs, pr)
	return pr
}

// All returns the stored pull requests, oldest first, for routes to
// filter under the lock.
func (s *Store) All() []*PullRequest { return s.prs }

// Find returns pull request n, or nil.
func (s *Store) Find(n int) *PullRequest {
	if n < 1 || n > len(s.prs) {
		return nil
	}
	return s.prs[n-1]
}

// Ref returns the commit branch points at in the git repository.
func (s *Store) Ref(branch string) (string, bool) {
	sha, err := gitIn(s.git, nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	return sha, err == nil && sha != ""
}

// DeleteBranch deletes a branch of the git repository.
func (s *Store) DeleteBranch(branch string) {
	if _, err := gitIn(s.git, nil, nil, "update-ref", "-d", "refs/heads/"+branch); err != nil {
		s.t.Errorf("%s: deleting %s: %v", s.name, branch, err)
	}
	s.Sync()
}

// refs reads every branch in one git call.
func (s *Store) refs() map[string]string {
	out, err := gitIn(s.git, nil, nil, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
	if err != nil {
		s.t.Errorf("%s: reading branches: %v", s.name, err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if sha, name, ok := strings.Cut(line, " "); ok {
			refs[strings.TrimPrefix(name, "refs/heads/")] = sha
		}
	}
	return refs
}

// Sync makes open pull requests follow the repository as forges do: the
// head sha follows the branch, a head that reached the base marks the
// pull request merged, and with DeletedHeadCloses a deleted head closes
// it.
func (s *Store) Sync() {
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
			if s.DeletedHeadCloses {
				pr.State = "closed"
			}
			continue
		}
		pr.HeadSHA = sha
		if base, ok := refs[pr.Base]; ok && s.Ancestor(sha, base) {
			pr.State, pr.Merged = "closed", true
		}
	}
}

// Ancestor reports whether commit a is an ancestor of commit b (or b
// itself). Commits never change, so answers are kept.
func (s *Store) Ancestor(a, b string) bool {
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

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Decode reads a JSON request body into v, answering 400 when it cannot.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON: " + err.Error()})
		return false
	}
	return true
}

// AppendNew appends the elements of add that list does not hold yet.
func AppendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
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

// Page is one page of a listing of n items, as a request asks for it with
// the query parameters perKey (per_page, limit) and page.
type Page struct {
	// Items are the page's items; Next is the next page's number, 0 on
	// the last page.
	Items []any
	Next  int
}

// Paginate picks the page of n items that r asks for, defaultPer (and at
// most maxPer, 0 = no cap) to a page.
func Paginate(r *http.Request, perKey string, defaultPer, maxPer, n int, item func(int) any) Page {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get(perKey))
	if err != nil || per <= 0 || (maxPer > 0 && per > maxPer) {
		per = defaultPer
	}
	p, err := strconv.Atoi(q.Get("page"))
	if err != nil || p <= 0 {
		p = 1
	}
	out := Page{Items: []any{}}
	for i := (p - 1) * per; i < n && i < p*per; i++ {
		out.Items = append(out.Items, item(i))
	}
	if p*per < n {
		out.Next = p + 1
	}
	return out
}

// LinkNext sets the Link header to the next page, as GitHub and Gitea
// paginate.
func LinkNext(w http.ResponseWriter, r *http.Request, next int) {
	if next == 0 {
		return
	}
	u := *r.URL
	q := u.Query()
	q.Set("page", strconv.Itoa(next))
	u.RawQuery = q.Encode()
	w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, u.String()))
}
