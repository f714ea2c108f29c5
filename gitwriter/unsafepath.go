package gitwriter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// unsafePath returns the first path of commit's tree that go-git refuses
// to check out, with why: a .git directory inside the tree, or a control
// character. go-git then fails the whole checkout, with messages such as
// "directory not found" that do not say which path; this names it.
func unsafePath(repo *git.Repository, commit plumbing.Hash) (path, why string) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return "", ""
	}
	t, err := c.Tree()
	if err != nil {
		return "", ""
	}
	return unsafeIn(t, "")
}

func unsafeIn(t *object.Tree, prefix string) (string, string) {
	for _, e := range t.Entries {
		p := prefix + e.Name
		switch {
		case strings.ContainsFunc(e.Name, unicode.IsControl):
			return p, "its name has a control character"
		case e.Mode == filemode.Dir && strings.EqualFold(e.Name, ".git"):
			return p + "/", "a .git directory inside the tree"
		}
		if e.Mode != filemode.Dir {
			continue
		}
		sub, err := t.Tree(e.Name)
		if err != nil {
			continue
		}
		if p, why := unsafeIn(sub, p+"/"); p != "" {
			return p, why
		}
	}
	return "", ""
}

// checkoutError explains err, a failed checkout of commit in repo, when the
// commit holds a path go-git refuses.
func checkoutError(repo *git.Repository, commit plumbing.Hash, err error) error {
	if repo == nil {
		return err
	}
	p, why := unsafePath(repo, commit)
	if p == "" {
		return err
	}
	return &UnsafePathError{Commit: commit.String(), Path: p, Why: why, Err: err}
}

// UnsafePathError is a checkout that failed because the commit holds a
// path that git does not check out.
type UnsafePathError struct {
	Commit, Path, Why string
	// Err is go-git's error, which does not name the path.
	Err error
}

func (e *UnsafePathError) Error() string {
	q := strconv.Quote(e.Path)
	return fmt.Sprintf("commit %s holds %s (%s), which cannot be checked out; remove or rename it", e.Commit, q[1:len(q)-1], e.Why)
}

func (e *UnsafePathError) Unwrap() error { return e.Err }
