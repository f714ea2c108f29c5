package githubfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/imagebump/imagebump/test/forgefake"
)

// firstIssue is the number of the fake's first issue: GitHub numbers
// issues and pull requests from one counter, and the fake's pull requests
// stay far below it.
const firstIssue = 10001

// Issues returns the fake's issues, oldest first.
func (s *Server) Issues() []forgefake.Issue { return s.issues.All() }

// HumanIssue opens an issue as a human would, and returns its number.
func (s *Server) HumanIssue(title, body string) int {
	s.issues.First = firstIssue
	return s.issues.Create(title, body).Number
}

// serveIssues answers GET and POST issues and PATCH issues/N as GitHub
// does; false when the route is not one of those.
func (s *Server) serveIssues(w http.ResponseWriter, r *http.Request, parts []string) bool {
	if parts[0] != "issues" {
		return false
	}
	s.issues.First = firstIssue
	render := func(is forgefake.Issue) map[string]any {
		return map[string]any{
			"number": is.Number, "title": is.Title, "body": is.Body, "state": is.State,
			"html_url": fmt.Sprintf("https://github.com/%s/%s/issues/%d", s.Owner, s.Repo, is.Number),
			"user":     map[string]string{"login": BotLogin},
		}
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		state := r.URL.Query().Get("state")
		if state == "" {
			state = "open"
		}
		// GitHub lists pull requests as issues too, newest first; only
		// the pull_request key tells them apart.
		var items []map[string]any
		for _, is := range slices.Backward(s.issues.List(state)) {
			items = append(items, render(is))
		}
		for _, pr := range slices.Backward(s.All()) {
			if state == "all" || pr.State == state {
				items = append(items, map[string]any{
					"number": pr.Number, "title": pr.Title, "body": pr.Body, "state": pr.State,
					"pull_request": map[string]string{"url": fmt.Sprintf("https://api.github.com/repos/%s/%s/pulls/%d", s.Owner, s.Repo, pr.Number)},
				})
			}
		}
		s.page(w, r, len(items), func(i int) any { return items[i] })
	case len(parts) == 1 && r.Method == http.MethodPost:
		var req struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		if !decode(w, r, &req) {
			return true
		}
		if req.Title == "" {
			validation(w, "title is missing")
			return true
		}
		writeJSON(w, http.StatusCreated, render(s.issues.Create(req.Title, req.Body)))
	case len(parts) == 2 && r.Method == http.MethodPatch:
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			notFound(w)
			return true
		}
		var req struct {
			Title *string `json:"title"`
			Body  *string `json:"body"`
			State *string `json:"state"`
		}
		if !decode(w, r, &req) {
			return true
		}
		is, ok := s.issues.Edit(n, req.Title, req.Body, req.State)
		if !ok {
			notFound(w)
			return true
		}
		writeJSON(w, http.StatusOK, render(is))
	default:
		return false
	}
	return true
}
