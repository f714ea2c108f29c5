package forgefake

import (
	"slices"
	"sync"
)

// Issue is a fake's state of one issue.
type Issue struct {
	Number      int
	Title, Body string
	State       string // open or closed
}

// Issues are a fake repository's issues. Its methods lock on their own,
// so routes (under the Store's lock) and tests may both call them.
type Issues struct {
	mu   sync.Mutex
	list []*Issue
	// First is the number of the first issue; 0 means 1. GitHub numbers
	// issues and pull requests from one counter, so its fake starts
	// issues far above its pull requests.
	First int
}

// All returns a copy of every issue, oldest first.
func (s *Issues) All() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, len(s.list))
	for i, is := range s.list {
		out[i] = *is
	}
	return out
}

// List returns the issues in state ("open", "closed" or "all").
func (s *Issues) List(state string) []Issue {
	return slices.DeleteFunc(s.All(), func(i Issue) bool { return state != "all" && i.State != state })
}

// Create opens an issue and returns it.
func (s *Issues) Create(title, body string) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := max(s.First, 1) + len(s.list)
	is := &Issue{Number: n, Title: title, Body: body, State: "open"}
	s.list = append(s.list, is)
	return *is
}

// Edit changes the fields given (nil: left alone) of issue n and returns
// it; false when there is no such issue.
func (s *Issues) Edit(n int, title, body, state *string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range s.list {
		if is.Number != n {
			continue
		}
		if title != nil {
			is.Title = *title
		}
		if body != nil {
			is.Body = *body
		}
		if state != nil {
			is.State = *state
		}
		return *is, true
	}
	return Issue{}, false
}
