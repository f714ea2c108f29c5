package gitwriter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// usedFile is touched by every Sync of a working copy (its time says when
// the copy was last used), for IdleCopies.
const usedFile = "imagebump-used"

// markUsed sets the time of the copy's usedFile to now, creating it the
// first time.
func (r *Repo) markUsed() {
	p := filepath.Join(r.dir, ".git", usedFile)
	now := time.Now()
	if err := os.Chtimes(p, now, now); errors.Is(err, fs.ErrNotExist) {
		_ = os.WriteFile(p, nil, 0o644)
	}
}

// copyName is how DirName names a working copy's directory.
var copyName = regexp.MustCompile(`^[A-Za-z0-9._-]*-[0-9a-f]{12}$`)

// IdleCopies lists, sorted, the working copies under workDir that no Sync
// has used for idle as of now, leaving out those named in keep (DirName's
// names of the repositories in use): the copies of repositories taken out
// of the config, moved to another shard, or of a branch no longer
// followed, which nothing else removes. A working copy is a directory
// named as DirName names them that holds a .git directory; it was last
// used when its usedFile, or if it has none (a copy of a version before
// it), its .git/index, was last written. Anything else under workDir is
// never listed, whatever it is.
func IdleCopies(workDir string, keep []string, idle time.Duration, now time.Time) ([]string, error) {
	entries, err := os.ReadDir(workDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || !copyName.MatchString(e.Name()) || slices.Contains(keep, e.Name()) {
			continue
		}
		dotGit := filepath.Join(workDir, e.Name(), ".git")
		if fi, err := os.Lstat(dotGit); err != nil || !fi.IsDir() {
			continue
		}
		fi, err := os.Stat(filepath.Join(dotGit, usedFile))
		if err != nil {
			if fi, err = os.Stat(filepath.Join(dotGit, "index")); err != nil {
				continue
			}
		}
		if now.Sub(fi.ModTime()) > idle {
			out = append(out, filepath.Join(workDir, e.Name()))
		}
	}
	return out, nil
}
