package forgefake

import "sync"

// PushLag is a forge's delay in seeing a just-pushed branch: the first N
// pull request creations from a head at a commit the API has not seen
// are refused (GitHub: 422 "No commits between"; GitLab: 400
// source_branch "does not exist"). Each fake answers in its forge's
// words. The zero value lags nothing; it is safe for concurrent use.
type PushLag struct {
	mu      sync.Mutex
	n       int
	creates map[string]int // "branch@sha" → creations seen
}

// Set makes the first n creations from each new head commit lag.
func (l *PushLag) Set(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n = n
}

// Lagging counts a creation from branch at commit sha and reports whether
// it falls in the window.
func (l *PushLag) Lagging(branch, sha string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return false
	}
	if l.creates == nil {
		l.creates = map[string]int{}
	}
	l.creates[branch+"@"+sha]++
	return l.creates[branch+"@"+sha] <= l.n
}
