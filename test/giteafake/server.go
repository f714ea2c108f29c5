package giteafake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imagebump/imagebump/test/forgefake"
)

// Server is the fake Gitea API for one repository. Its pull request
// state, write log and human helpers (HumanClose, HumanOpen, Merge) are
// forgefake's.
type Server struct {
	// URL is the server's root, what the SDK is given; the API is under
	// URL+"/api/v1".
	URL         string
	Owner, Repo string
	*forgefake.Store

	// Labels are the repository's labels by name (ID as value); labels
	// created through the API are added. OrgLabels are the owner's
	// organization labels; nil means the owner is a user (404).
	Labels    map[string]int64
	OrgLabels map[string]int64

	token atomic.Pointer[string]
}

// New starts a fake for owner/repo whose branches are the refs of the bare
// repository at gitDir, with base as the default branch. It stops when the
// test ends.
func New(t testing.TB, gitDir, owner, repo, base string) *Server {
	t.Helper()
	s := &Server{Owner: owner, Repo: repo, Store: forgefake.NewStore(t, "giteafake", gitDir, base), Labels: map[string]int64{}}
	auth := func(r *http.Request) bool {
		tok := s.token.Load()
		return tok == nil || r.Header.Get("Authorization") == "token "+*tok
	}
	deny := func(w http.ResponseWriter) {
		forgefake.WriteJSON(w, http.StatusUnauthorized, map[string]string{"message": "token is required"})
	}
	srv := httptest.NewServer(s.Handler(auth, deny, s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// RequireToken makes the fake answer 401 to requests that do not carry
// "Authorization: token TOKEN".
func (s *Server) RequireToken(token string) { s.token.Store(&token) }

// RateLimit answers the next n requests with 429 and Retry-After:
// retryAfter seconds, as a proxy in front of Gitea would.
func (s *Server) RateLimit(n, retryAfter int) {
	s.Limit(n, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		forgefake.WriteJSON(w, http.StatusTooManyRequests, map[string]string{"message": "too many requests"})
	})
}

// ClosePath is the path of the request that closes (and edits) pull
// request n, for FailOnce.
func (s *Server) ClosePath(n int) string {
	return fmt.Sprintf("/api/v1/repos/%s/%s/pulls/%d", s.Owner, s.Repo, n)
}

// wipRe is Gitea's default WORK_IN_PROGRESS_PREFIXES.
var wipRe = regexp.MustCompile(`(?i)^\s*(wip:|\[wip\])`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1")
	if path == "/version" && r.Method == http.MethodGet {
		forgefake.WriteJSON(w, http.StatusOK, map[string]string{"version": "1.26.0"})
		return
	}
	if path == "/orgs/"+s.Owner+"/labels" && r.Method == http.MethodGet {
		if s.OrgLabels == nil {
			forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "GetOrgByName", "url": "https://gitea.example.com/api/swagger"})
			return
		}
		s.labelList(w, r, s.OrgLabels)
		return
	}
	rest, ok := strings.CutPrefix(path, "/repos/"+s.Owner+"/"+s.Repo)
	if !ok {
		s.Unknown(w, r)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	num := func(i int) (*forgefake.PullRequest, bool) {
		n, err := strconv.Atoi(parts[i])
		pr := s.Find(n)
		if err != nil || pr == nil {
			forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "pull request does not exist"})
			return nil, false
		}
		return pr, true
	}
	route := r.Method + " " + strings.Join(parts, "/")
	switch {
	case route == "GET ":
		forgefake.WriteJSON(w, http.StatusOK, map[string]any{"id": 1, "name": s.Repo, "full_name": s.Owner + "/" + s.Repo, "default_branch": s.Base, "owner": map[string]string{"login": s.Owner}})
	case route == "GET pulls":
		s.list(w, r)
	case route == "POST pulls":
		s.create(w, r)
	case route == "GET labels":
		s.labelList(w, r, s.Labels)
	case route == "POST labels":
		var req struct {
			Name  string `json:"name"`
			Color string `json:"color"`
		}
		if !forgefake.Decode(w, r, &req) {
			return
		}
		if _, dup := s.Labels[req.Name]; dup || req.Name == "" || req.Color == "" {
			forgefake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "label name is empty, exists already, or has no color"})
			return
		}
		id := int64(100 + len(s.Labels))
		s.Labels[req.Name] = id
		forgefake.WriteJSON(w, http.StatusCreated, map[string]any{"id": id, "name": req.Name, "color": strings.TrimPrefix(req.Color, "#")})
	case len(parts) == 2 && parts[0] == "pulls" && (r.Method == http.MethodGet || r.Method == http.MethodPatch):
		pr, ok := num(1)
		if !ok {
			return
		}
		if r.Method == http.MethodPatch {
			s.edit(w, r, pr)
			return
		}
		forgefake.WriteJSON(w, http.StatusOK, s.render(pr))
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "pulls" && parts[2] == "requested_reviewers":
		pr, ok := num(1)
		if !ok {
			return
		}
		var req struct {
			Reviewers     []string `json:"reviewers"`
			TeamReviewers []string `json:"team_reviewers"`
		}
		if !forgefake.Decode(w, r, &req) {
			return
		}
		pr.Reviewers = forgefake.AppendNew(pr.Reviewers, req.Reviewers...)
		pr.TeamReviewers = forgefake.AppendNew(pr.TeamReviewers, req.TeamReviewers...)
		forgefake.WriteJSON(w, http.StatusCreated, []any{})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "issues" && parts[2] == "labels":
		pr, ok := num(1)
		if !ok {
			return
		}
		var req struct {
			Labels []int64 `json:"labels"`
		}
		if !forgefake.Decode(w, r, &req) {
			return
		}
		for _, id := range req.Labels {
			name := labelName(s.Labels, id)
			if name == "" {
				name = labelName(s.OrgLabels, id)
			}
			if name == "" {
				forgefake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": fmt.Sprintf("label %d does not exist", id)})
				return
			}
			pr.Labels = forgefake.AppendNew(pr.Labels, name)
		}
		forgefake.WriteJSON(w, http.StatusOK, s.labelsJSON(pr.Labels))
	case len(parts) == 3 && parts[0] == "issues" && parts[2] == "comments" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		pr, ok := num(1)
		if !ok {
			return
		}
		if r.Method == http.MethodGet {
			var out []map[string]any
			for i, c := range pr.Comments {
				out = append(out, map[string]any{"id": pr.Number*1000 + i, "body": c, "user": map[string]string{"login": forgefake.BotLogin}})
			}
			page(w, r, len(out), func(i int) any { return out[i] })
			return
		}
		var req struct {
			Body string `json:"body"`
		}
		if !forgefake.Decode(w, r, &req) {
			return
		}
		pr.Comments = append(pr.Comments, req.Body)
		forgefake.WriteJSON(w, http.StatusCreated, map[string]any{"id": pr.Number*1000 + len(pr.Comments) - 1, "body": req.Body, "user": map[string]string{"login": forgefake.BotLogin}})
	default:
		s.Unknown(w, r)
	}
}

func labelName(labels map[string]int64, id int64) string {
	for n, i := range labels {
		if i == id {
			return n
		}
	}
	return ""
}

func (s *Server) labelList(w http.ResponseWriter, r *http.Request, labels map[string]int64) {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	slices.Sort(names)
	page(w, r, len(names), func(i int) any { return map[string]any{"id": labels[names[i]], "name": names[i], "color": "ededed"} })
}

func (s *Server) labelsJSON(names []string) []map[string]any {
	out := []map[string]any{}
	for _, n := range names {
		id := s.Labels[n]
		if id == 0 {
			id = s.OrgLabels[n]
		}
		out = append(out, map[string]any{"id": id, "name": n})
	}
	return out
}

// page writes items of a listing, honouring limit and page and linking
// the next page as Gitea does.
func page(w http.ResponseWriter, r *http.Request, n int, item func(int) any) {
	p := forgefake.Paginate(r, "limit", 30, 50, n, item)
	w.Header().Set("X-Total-Count", strconv.Itoa(n))
	forgefake.LinkNext(w, r, p.Next)
	forgefake.WriteJSON(w, http.StatusOK, p.Items)
}

func (s *Server) render(pr *forgefake.PullRequest) map[string]any {
	base, _ := s.Ref(pr.Base)
	reviewers := []map[string]string{}
	for _, r := range pr.Reviewers {
		reviewers = append(reviewers, map[string]string{"login": r})
	}
	out := map[string]any{
		"id":                  100 + pr.Number,
		"number":              pr.Number,
		"state":               map[bool]string{true: "open", false: "closed"}[pr.State == "open"],
		"title":               pr.Title,
		"body":                pr.Body,
		"draft":               pr.Draft,
		"merged":              pr.Merged,
		"html_url":            fmt.Sprintf("https://gitea.example.com/%s/%s/pulls/%d", s.Owner, s.Repo, pr.Number),
		"user":                map[string]string{"login": pr.User},
		"head":                map[string]any{"ref": pr.Head, "sha": pr.HeadSHA, "label": pr.Head, "repo_id": 1},
		"base":                map[string]any{"ref": pr.Base, "sha": base, "label": pr.Base, "repo_id": 1},
		"labels":              s.labelsJSON(pr.Labels),
		"requested_reviewers": reviewers,
	}
	if pr.Merged {
		out["merged_at"] = "2026-01-01T00:00:00Z"
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		forgefake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "state must be open, closed or all"})
		return
	}
	var match []*forgefake.PullRequest
	all := s.All()
	for i := len(all) - 1; i >= 0; i-- { // newest first
		if pr := all[i]; state == "all" || pr.State == state {
			match = append(match, pr)
		}
	}
	page(w, r, len(match), func(i int) any { return s.render(match[i]) })
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Head   string  `json:"head"`
		Base   string  `json:"base"`
		Title  string  `json:"title"`
		Body   string  `json:"body"`
		Labels []int64 `json:"labels"`
	}
	if !forgefake.Decode(w, r, &req) {
		return
	}
	if req.Title == "" {
		forgefake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "[Title]: Required"})
		return
	}
	head, ok := s.Ref(req.Head)
	if !ok {
		forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "head branch does not exist"})
		return
	}
	base, ok := s.Ref(req.Base)
	if !ok {
		forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "base branch does not exist"})
		return
	}
	if s.Ancestor(head, base) {
		forgefake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "There are no changes between the head and the base"})
		return
	}
	for _, pr := range s.All() {
		if pr.State == "open" && pr.Head == req.Head && pr.Base == req.Base {
			forgefake.WriteJSON(w, http.StatusConflict, map[string]string{"message": fmt.Sprintf("pull request already exists for these targets [id: %d, issue_id: %d, head_repo_id: 1, base_repo_id: 1, head_branch: %s, base_branch: %s]", pr.Number, pr.Number, pr.Head, pr.Base)})
			return
		}
	}
	pr := s.Add(&forgefake.PullRequest{Title: req.Title, Body: req.Body, Draft: wipRe.MatchString(req.Title), State: "open", Head: req.Head, HeadSHA: head, Base: req.Base, User: forgefake.BotLogin})
	forgefake.WriteJSON(w, http.StatusCreated, s.render(pr))
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request, pr *forgefake.PullRequest) {
	var req struct {
		Title string  `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  string  `json:"base"`
	}
	if !forgefake.Decode(w, r, &req) {
		return
	}
	if req.Base != "" && req.Base != pr.Base {
		s.Errorf("changing a pull request's base is not supported")
	}
	if req.State != nil {
		switch *req.State {
		case "closed":
			if pr.Merged {
				forgefake.WriteJSON(w, http.StatusConflict, map[string]string{"message": "cannot close a merged pull request"})
				return
			}
			pr.State = "closed"
		case "open":
			if _, ok := s.Ref(pr.Head); !ok || pr.Merged {
				forgefake.WriteJSON(w, http.StatusConflict, map[string]string{"message": "cannot reopen"})
				return
			}
			pr.State = "open"
		default:
			forgefake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "state must be open or closed"})
			return
		}
	}
	// Gitea leaves what is empty alone.
	if req.Title != "" {
		pr.Title = req.Title
		pr.Draft = wipRe.MatchString(pr.Title)
	}
	if req.Body != nil {
		pr.Body = *req.Body
	}
	forgefake.WriteJSON(w, http.StatusCreated, s.render(pr))
}
