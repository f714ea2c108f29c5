package gitlabfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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

// Server is the fake GitLab API for one project. Its merge request state,
// write log and human helpers (HumanClose, HumanOpen, Merge) are
// forgefake's; PullRequest.Reviewers hold usernames.
type Server struct {
	// URL is the API root to give the client: http://127.0.0.1:PORT/api/v4.
	URL string
	// Project is the project's path, group/sub/project.
	Project string
	*forgefake.Store

	// Users maps usernames the fake knows to their IDs. Set before the
	// first request.
	Users map[string]int64

	token atomic.Pointer[string]

	// The strict behaviours below are switched by their methods; routes
	// read them under mu (routes also run under the Store's lock).
	mu       sync.Mutex
	now      func() time.Time
	used     int64
	lag      forgefake.PushLag
	free     bool
	legacy13 bool
	forks    []*forgefake.PullRequest

	issues forgefake.Issues
}

// PushLag makes a source branch the API has not seen at its current
// commit answer the first n merge request creations from it with 400
// {"message":{"source_branch":["does not exist"]}}, as GitLab does while a
// just-pushed branch is processed (Renovate retries "source_branch does
// not exist" for this reason).
func (s *Server) PushLag(n int) {
	s.lag.Set(n)
}

// Free makes the project one on GitLab Free, where a merge request has at
// most one reviewer: of reviewer_ids only the first is kept, silently
// (GitLab's docs: multiple reviewers are a Premium feature).
func (s *Server) Free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = true
}

// Legacy13 makes the fake answer as GitLab 13.x: merge requests carry
// work_in_progress and no draft field, so a draft shows only in its title.
func (s *Server) Legacy13() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacy13 = true
}

// ForkMergeRequest adds an open merge request from a fork whose source
// branch is named branch: GitLab's project list filtered by source_branch
// includes merge requests from forks into the project.
func (s *Server) ForkMergeRequest(branch, title, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forks = append(s.forks, &forgefake.PullRequest{Number: 900 + len(s.forks), Title: title, Body: body, State: "open", Head: branch, HeadSHA: strings.Repeat("f", 40), Base: s.Base, User: "someone"})
}

// New starts a fake for the project at path whose branches are the refs
// of the bare repository at gitDir, with base as the default branch. It
// knows users alice (ID 7) and bob (ID 8). It stops when the test ends.
func New(t testing.TB, gitDir, path, base string) *Server {
	t.Helper()
	s := &Server{Project: path, Store: forgefake.NewStore(t, "gitlabfake", gitDir, base), Users: map[string]int64{"alice": 7, "bob": 8}}
	auth := func(r *http.Request) bool {
		tok := s.token.Load()
		return tok == nil || r.Header.Get("PRIVATE-TOKEN") == *tok || r.Header.Get("Authorization") == "Bearer "+*tok
	}
	deny := func(w http.ResponseWriter) {
		forgefake.WriteJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
	}
	s.now = time.Now
	srv := httptest.NewServer(s.rateHeaders(s.Handler(auth, deny, s.serve)))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/api/v4"
	return s
}

// RequireToken makes the fake answer 401 to requests that carry token
// neither as PRIVATE-TOKEN nor as a bearer token.
func (s *Server) RequireToken(token string) { s.token.Store(&token) }

// RateLimitLimit is the requests a minute the fake's RateLimit-* headers
// allow: GitLab.com's limit for authenticated API traffic.
const RateLimitLimit = 2000

// MaxDescription is the longest merge request description GitLab takes,
// in characters: "description: … Limited to 1,048,576 characters" (GitLab's
// merge requests API documentation, docs.gitlab.com/api/merge_requests/).
// A longer one is refused with 400.
const MaxDescription = 1048576

// UseClock makes the fake read the time from now (default: time.Now) for
// its RateLimit-* headers, so a test on a clock of its own knows the
// reset they name.
func (s *Server) UseClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Reset is when the fake's rate-limit window ends, as its RateLimit-Reset
// header says: the end of the current minute.
func (s *Server) Reset() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reset()
}

func (s *Server) reset() time.Time { return s.now().Truncate(time.Minute).Add(time.Minute) }

// rateHeaders adds the RateLimit-* headers GitLab.com sends on every API
// answer ("The following example headers are included for all API
// requests: RateLimit-Limit, RateLimit-Observed, RateLimit-Remaining,
// RateLimit-Reset, RateLimit-ResetTime", docs.gitlab.com/user/gitlab_com/,
// "Rate limits on GitLab.com"): a per-minute window that resets at the
// end of the current minute, with the requests counted since the fake
// started.
func (s *Server) rateHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.used++
		used, reset := s.used, s.reset()
		s.mu.Unlock()
		h := w.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(RateLimitLimit))
		h.Set("RateLimit-Observed", strconv.FormatInt(used, 10))
		h.Set("RateLimit-Remaining", strconv.FormatInt(max(RateLimitLimit-used, 1), 10))
		h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
		next.ServeHTTP(w, r)
	})
}

// RateLimit answers the next n requests with GitLab's 429 "Retry later",
// the window spent (RateLimit-Remaining 0) and Retry-After: retryAfter
// seconds; a negative retryAfter sends no Retry-After, leaving
// RateLimit-Reset, the end of the window, as the only hint (GitLab sends
// Retry-After only from some of its limiters; gitlab-org/gitlab#365728
// reports 429s on GitLab.com without it).
func (s *Server) RateLimit(n, retryAfter int) {
	s.Limit(n, func(w http.ResponseWriter) {
		h := w.Header()
		if retryAfter >= 0 {
			h.Set("Retry-After", strconv.Itoa(retryAfter))
		}
		h.Set("RateLimit-Observed", strconv.Itoa(RateLimitLimit+1))
		h.Set("RateLimit-Remaining", "0")
		tooMany(w)
	})
}

// RateLimitBare answers the next n requests with a 429 that carries no
// Retry-After and no RateLimit-* header at all, as GitLab.com's 429s
// have been seen to (gitlab-org/gitlab#365728, gitlab-org/gitlab-ce#41308).
func (s *Server) RateLimitBare(n int) {
	s.Limit(n, func(w http.ResponseWriter) {
		for _, k := range []string{"RateLimit-Limit", "RateLimit-Observed", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-ResetTime"} {
			w.Header().Del(k)
		}
		tooMany(w)
	})
}

func tooMany(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintln(w, "Retry later")
}

// descriptionTooLong answers GitLab's refusal of a description above
// MaxDescription characters and reports whether it did.
func descriptionTooLong(w http.ResponseWriter, description string) bool {
	if utf8.RuneCountInString(description) <= MaxDescription {
		return false
	}
	forgefake.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"description": {fmt.Sprintf("is too long (maximum is %d characters)", MaxDescription)}}})
	return true
}

// ClosePath is the path of the request that closes (and edits) merge
// request n, for FailOnce.
func (s *Server) ClosePath(n int) string {
	return fmt.Sprintf("/api/v4/projects/%s/merge_requests/%d", url.PathEscape(s.Project), n)
}

// draftRe is the title prefixes GitLab reads as draft.
var draftRe = regexp.MustCompile(`(?i)^\s*(\[draft\]|\(draft\)|draft:|draft\s*-)`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if parts[0] == "users" && len(parts) == 1 && r.Method == http.MethodGet {
		s.users(w, r)
		return
	}
	if parts[0] != "projects" || len(parts) < 2 {
		s.Unknown(w, r)
		return
	}
	if id, err := url.PathUnescape(parts[1]); err != nil || id != s.Project {
		forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return
	}
	rest := parts[2:]
	mr := func() (*forgefake.PullRequest, bool) {
		n, err := strconv.Atoi(rest[1])
		pr := s.Find(n)
		if err != nil || pr == nil {
			forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
			return nil, false
		}
		return pr, true
	}
	route := r.Method + " " + strings.Join(rest, "/")
	if s.serveIssues(w, r, rest) {
		return
	}
	switch {
	case route == "GET ":
		forgefake.WriteJSON(w, http.StatusOK, map[string]any{"id": 1, "path_with_namespace": s.Project, "default_branch": s.Base})
	case route == "GET merge_requests":
		s.list(w, r)
	case route == "POST merge_requests":
		s.create(w, r)
	case len(rest) == 2 && rest[0] == "merge_requests" && (r.Method == http.MethodGet || r.Method == http.MethodPut):
		pr, ok := mr()
		if !ok {
			return
		}
		if r.Method == http.MethodPut {
			s.update(w, r, pr)
			return
		}
		forgefake.WriteJSON(w, http.StatusOK, s.render(pr))
	case len(rest) == 3 && rest[0] == "merge_requests" && rest[2] == "notes" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		pr, ok := mr()
		if !ok {
			return
		}
		if r.Method == http.MethodGet {
			// A system note, as GitLab adds for pushes: clients must not
			// take it for the bot's.
			notes := []map[string]any{{"id": pr.Number * 1000, "body": "added 1 commit", "system": true}}
			for i, c := range pr.Comments {
				notes = append(notes, map[string]any{"id": pr.Number*1000 + i + 1, "body": c, "system": false, "author": map[string]string{"username": forgefake.BotLogin}})
			}
			page(w, r, len(notes), func(i int) any { return notes[i] })
			return
		}
		var req struct {
			Body string `json:"body"`
		}
		if !forgefake.Decode(w, r, &req) {
			return
		}
		if req.Body == "" {
			forgefake.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "400 Bad request - Note {:note=>[\"can't be blank\"]}"})
			return
		}
		pr.Comments = append(pr.Comments, req.Body)
		forgefake.WriteJSON(w, http.StatusCreated, map[string]any{"id": pr.Number*1000 + len(pr.Comments), "body": req.Body, "system": false})
	default:
		s.Unknown(w, r)
	}
}

func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	if name == "" {
		s.Errorf("listing users without a username filter")
	}
	out := []map[string]any{}
	for u, id := range s.Users {
		if strings.EqualFold(u, name) {
			out = append(out, map[string]any{"id": id, "username": u, "state": "active"})
		}
	}
	forgefake.WriteJSON(w, http.StatusOK, out)
}

// page writes items of a listing, honouring per_page and page and setting
// GitLab's pagination headers.
func page(w http.ResponseWriter, r *http.Request, n int, item func(int) any) {
	p := forgefake.Paginate(r, "per_page", 20, 100, n, item)
	w.Header().Set("X-Total", strconv.Itoa(n))
	if p.Next > 0 {
		w.Header().Set("X-Next-Page", strconv.Itoa(p.Next))
	} else {
		w.Header().Set("X-Next-Page", "")
	}
	forgefake.WriteJSON(w, http.StatusOK, p.Items)
}

func glState(pr *forgefake.PullRequest) string {
	switch {
	case pr.Merged:
		return "merged"
	case pr.State == "open":
		return "opened"
	default:
		return "closed"
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "all"
	}
	if !slices.Contains([]string{"opened", "closed", "merged", "locked", "all"}, state) {
		forgefake.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "state does not have a valid value"})
		return
	}
	var match []*forgefake.PullRequest
	s.mu.Lock()
	all := append(slices.Clone(s.All()), s.forks...)
	s.mu.Unlock()
	for i := len(all) - 1; i >= 0; i-- { // newest first, as GitLab sorts by default
		pr := all[i]
		if (state == "all" || glState(pr) == state) && (q.Get("source_branch") == "" || pr.Head == q.Get("source_branch")) {
			match = append(match, pr)
		}
	}
	page(w, r, len(match), func(i int) any { return s.render(match[i]) })
}

func (s *Server) render(pr *forgefake.PullRequest) map[string]any {
	reviewers := []map[string]any{}
	for _, u := range pr.Reviewers {
		reviewers = append(reviewers, map[string]any{"id": s.Users[u], "username": u})
	}
	s.mu.Lock()
	legacy, fork := s.legacy13, slices.Contains(s.forks, pr)
	s.mu.Unlock()
	source := 1
	if fork {
		source = 2
	}
	out := map[string]any{
		"id":                100 + pr.Number,
		"iid":               pr.Number,
		"project_id":        1,
		"source_project_id": source,
		"target_project_id": 1,
		"title":             pr.Title,
		"description":       pr.Body,
		"state":             glState(pr),
		"source_branch":     pr.Head,
		"target_branch":     pr.Base,
		"sha":               pr.HeadSHA,
		"labels":            append([]string{}, pr.Labels...),
		"reviewers":         reviewers,
		"author":            map[string]string{"username": pr.User},
		"web_url":           fmt.Sprintf("https://gitlab.example.com/%s/-/merge_requests/%d", s.Project, pr.Number),
	}
	if legacy {
		out["work_in_progress"] = pr.Draft
	} else {
		out["draft"] = pr.Draft
	}
	if pr.Merged {
		out["merged_at"] = "2026-01-01T00:00:00Z"
	}
	return out
}

// labels reads GitLab's labels parameter: a comma-separated string (what
// clients send) or a JSON array.
func labels(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		for _, l := range strings.Split(s, ",") {
			if l = strings.TrimSpace(l); l != "" {
				list = append(list, l)
			}
		}
	}
	return list
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title        string          `json:"title"`
		Description  string          `json:"description"`
		SourceBranch string          `json:"source_branch"`
		TargetBranch string          `json:"target_branch"`
		Labels       json.RawMessage `json:"labels"`
		ReviewerIDs  []int64         `json:"reviewer_ids"`
	}
	if !forgefake.Decode(w, r, &req) {
		return
	}
	if req.Title == "" || req.SourceBranch == "" || req.TargetBranch == "" {
		forgefake.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "title, source_branch, target_branch are missing"})
		return
	}
	if descriptionTooLong(w, req.Description) {
		return
	}
	head, ok := s.Ref(req.SourceBranch)
	if ok && s.lag.Lagging(req.SourceBranch, head) {
		forgefake.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"source_branch": {"does not exist"}}})
		return
	}
	if !ok {
		forgefake.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": []string{"Source branch \"" + req.SourceBranch + "\" does not exist"}})
		return
	}
	if _, ok := s.Ref(req.TargetBranch); !ok {
		forgefake.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": []string{"Target branch \"" + req.TargetBranch + "\" does not exist"}})
		return
	}
	for _, pr := range s.All() {
		if pr.State == "open" && pr.Head == req.SourceBranch && pr.Base == req.TargetBranch {
			forgefake.WriteJSON(w, http.StatusConflict, map[string]any{"message": []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", pr.Number)}})
			return
		}
	}
	pr := s.Add(&forgefake.PullRequest{
		Title: req.Title, Body: req.Description, Draft: draftRe.MatchString(req.Title), State: "open",
		Head: req.SourceBranch, HeadSHA: head, Base: req.TargetBranch, User: forgefake.BotLogin,
		Labels: forgefake.AppendNew(nil, labels(req.Labels)...),
	})
	if !s.setReviewers(w, pr, req.ReviewerIDs) {
		return
	}
	forgefake.WriteJSON(w, http.StatusCreated, s.render(pr))
}

func (s *Server) setReviewers(w http.ResponseWriter, pr *forgefake.PullRequest, ids []int64) bool {
	var names []string
	for _, id := range ids {
		found := false
		for u, uid := range s.Users {
			if uid == id {
				names, found = append(names, u), true
			}
		}
		if !found {
			forgefake.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": fmt.Sprintf("reviewer %d not found", id)})
			return false
		}
	}
	s.mu.Lock()
	free := s.free
	s.mu.Unlock()
	if free && len(names) > 1 {
		names = names[:1]
	}
	if ids != nil {
		pr.Reviewers = names
	}
	return true
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, pr *forgefake.PullRequest) {
	var req struct {
		Title        *string         `json:"title"`
		Description  *string         `json:"description"`
		StateEvent   *string         `json:"state_event"`
		AddLabels    json.RawMessage `json:"add_labels"`
		Labels       json.RawMessage `json:"labels"`
		ReviewerIDs  *[]int64        `json:"reviewer_ids"`
		TargetBranch *string         `json:"target_branch"`
	}
	if !forgefake.Decode(w, r, &req) {
		return
	}
	if req.Description != nil && descriptionTooLong(w, *req.Description) {
		return
	}
	if req.TargetBranch != nil && *req.TargetBranch != pr.Base {
		s.Errorf("changing a merge request's target branch is not supported")
	}
	if req.StateEvent != nil {
		switch *req.StateEvent {
		case "close":
			if pr.Merged {
				forgefake.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "405 Method Not Allowed"})
				return
			}
			pr.State = "closed"
		case "reopen":
			if pr.Merged {
				forgefake.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "405 Method Not Allowed"})
				return
			}
			pr.State = "open"
		default:
			forgefake.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "state_event does not have a valid value"})
			return
		}
	}
	if req.Title != nil {
		pr.Title = *req.Title
		pr.Draft = draftRe.MatchString(pr.Title)
	}
	if req.Description != nil {
		pr.Body = *req.Description
	}
	if len(req.Labels) > 0 {
		pr.Labels = forgefake.AppendNew(nil, labels(req.Labels)...)
	}
	if len(req.AddLabels) > 0 {
		pr.Labels = forgefake.AppendNew(pr.Labels, labels(req.AddLabels)...)
	}
	if req.ReviewerIDs != nil && !s.setReviewers(w, pr, *req.ReviewerIDs) {
		return
	}
	forgefake.WriteJSON(w, http.StatusOK, s.render(pr))
}
