package gitwriter

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// SkippedPath is a path of the tip that Sync did not check out, because
// git does not write it into a worktree: a .git directory inside the tree,
// or a name with a control character. go-git refuses the whole checkout
// then; Sync writes the rest of the files itself, so that one hostile path
// does not block the repository.
type SkippedPath struct {
	// Path is relative to the root, with forward slashes, as git has it
	// (it may hold control characters: show it escaped).
	Path string
	// Why says what is wrong with it.
	Why string
}

// unsafeWhy says why git does not check out the tree entry name at
// depth (0: the root), or "" when it does.
func unsafeWhy(name string, mode filemode.FileMode, depth int) string {
	switch {
	case strings.ContainsFunc(name, unicode.IsControl):
		return "its name has a control character"
	case strings.EqualFold(name, ".git") && (depth == 0 || mode == filemode.Dir):
		return "a .git directory inside the tree"
	}
	return ""
}

// unsafePaths lists the paths of commit's tree that git does not check
// out.
func unsafePaths(repo *git.Repository, commit plumbing.Hash) ([]SkippedPath, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var out []SkippedPath
	var walk func(t *object.Tree, prefix string, depth int) error
	walk = func(t *object.Tree, prefix string, depth int) error {
		for _, e := range t.Entries {
			p := prefix + e.Name
			if why := unsafeWhy(e.Name, e.Mode, depth); why != "" {
				out = append(out, SkippedPath{Path: p, Why: why})
				continue
			}
			if e.Mode != filemode.Dir {
				continue
			}
			sub, err := object.GetTree(repo.Storer, e.Hash)
			if err != nil {
				return fmt.Errorf("reading the tree of %s: %w", p, err)
			}
			if err := walk(sub, p+"/", depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(t, "", 0)
}

// checkoutSafely writes commit's tree into the worktree at dir, without
// the paths git does not check out, which it returns; everything else in
// dir but .git is removed first. The index is left alone: the next Sync
// finds the worktree unlike it and checks out again.
func checkoutSafely(repo *git.Repository, dir string, commit plumbing.Hash) ([]SkippedPath, error) {
	skipped, err := unsafePaths(repo, commit)
	if err != nil || len(skipped) == 0 {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var write func(t *object.Tree, dir string, depth int) error
	write = func(t *object.Tree, dir string, depth int) error {
		for _, e := range t.Entries {
			if unsafeWhy(e.Name, e.Mode, depth) != "" || strings.ContainsAny(e.Name, `/\`) || e.Name == "." || e.Name == ".." {
				continue
			}
			p := filepath.Join(dir, e.Name)
			switch e.Mode {
			case filemode.Dir:
				sub, err := object.GetTree(repo.Storer, e.Hash)
				if err != nil {
					return err
				}
				if err := os.Mkdir(p, 0o755); err != nil {
					return err
				}
				if err := write(sub, p, depth+1); err != nil {
					return err
				}
			case filemode.Regular, filemode.Deprecated, filemode.Executable:
				perm := os.FileMode(0o644)
				if e.Mode == filemode.Executable {
					perm = 0o755
				}
				if err := writeBlobFile(repo, e.Hash, p, perm); err != nil {
					return err
				}
			case filemode.Symlink:
				target, err := blobString(repo, e.Hash)
				if err != nil {
					return err
				}
				if err := os.Symlink(target, p); err != nil {
					return err
				}
			case filemode.Submodule:
				if err := os.Mkdir(p, 0o755); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := write(t, dir, 0); err != nil {
		return nil, fmt.Errorf("writing the files of %s: %w", commit, err)
	}
	return skipped, nil
}

func writeBlobFile(repo *git.Repository, h plumbing.Hash, p string, perm os.FileMode) error {
	b, err := object.GetBlob(repo.Storer, h)
	if err != nil {
		return err
	}
	r, err := b.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func blobString(repo *git.Repository, h plumbing.Hash) (string, error) {
	b, err := object.GetBlob(repo.Storer, h)
	if err != nil {
		return "", err
	}
	r, err := b.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	s, err := io.ReadAll(io.LimitReader(r, 4096))
	return string(s), err
}

// EscapePath is a path fit for a line of output: control characters
// escaped as Go quotes them.
func EscapePath(p string) string {
	q := strconv.Quote(p)
	return q[1 : len(q)-1]
}
