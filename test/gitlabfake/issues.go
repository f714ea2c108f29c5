package gitlabfake

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/imagebump/imagebump/test/forgefake"
)

// Issues returns the fake's issues, oldest first.
func (s *Server) Issues() []forgefake.Issue { return s.issues.All() }

// HumanIssue opens an issue as a human would, and returns its IID.
func (s *Server) HumanIssue(title, description string) int {
	return s.issues.Create(title, description).Number
}

// serveIssues answers GET and POST issues and PUT issues/IID of the
// project as GitLab does; false when the route is not one of those.
func (s *Server) serveIssues(w http.ResponseWriter, r *http.Request, rest []string) bool {
	if len(rest) == 0 || rest[0] != "issues" {
		return false
	}
	render := func(is forgefake.Issue) map[string]any {
		state := "opened"
		if is.State == "closed" {
			state = "closed"
		}
		return map[string]any{
			"id": 5000 + is.Number, "iid": is.Number, "title": is.Title, "description": is.Body, "state": state,
			"web_url": fmt.Sprintf("https://gitlab.example.com/%s/-/issues/%d", s.Project, is.Number),
		}
	}
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		state := map[string]string{"": "all", "opened": "open", "closed": "closed", "all": "all"}[r.URL.Query().Get("state")]
		if state == "" {
			forgefake.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "state does not have a valid value"})
			return true
		}
		list := s.issues.List(state)
		page(w, r, len(list), func(i int) any { return render(list[i]) })
	case len(rest) == 1 && r.Method == http.MethodPost:
		var req struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		}
		if !forgefake.Decode(w, r, &req) {
			return true
		}
		if req.Title == "" {
			forgefake.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "title is missing"})
			return true
		}
		// Issues take descriptions up to the merge requests' limit.
		if descriptionTooLong(w, req.Description) {
			return true
		}
		forgefake.WriteJSON(w, http.StatusCreated, render(s.issues.Create(req.Title, req.Description)))
	case len(rest) == 2 && r.Method == http.MethodPut:
		n, err := strconv.Atoi(rest[1])
		if err != nil {
			forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
			return true
		}
		var req struct {
			Title       *string `json:"title"`
			Description *string `json:"description"`
			StateEvent  *string `json:"state_event"`
		}
		if !forgefake.Decode(w, r, &req) {
			return true
		}
		if req.Description != nil && descriptionTooLong(w, *req.Description) {
			return true
		}
		var state *string
		if req.StateEvent != nil {
			st := map[string]string{"close": "closed", "reopen": "open"}[*req.StateEvent]
			state = &st
		}
		is, ok := s.issues.Edit(n, req.Title, req.Description, state)
		if !ok {
			forgefake.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
			return true
		}
		forgefake.WriteJSON(w, http.StatusOK, render(is))
	default:
		return false
	}
	return true
}
