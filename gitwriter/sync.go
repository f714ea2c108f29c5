package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// SyncResult says what Sync did.
type SyncResult struct {
	// Branch is the remote branch the working copy now follows: PushBranch
	// once it exists, else Branch.
	Branch string
	// Head is the commit the working copy is at.
	Head string
	// Cloned is true when the working copy was cloned afresh; Reason then
	// says why ("no working copy yet", "remote url is …", …).
	Cloned bool
	Reason string
	// Fetched is true when objects were fetched into an existing copy.
	Fetched bool
	// Worktree says how the files were brought to Head: WorktreeClean,
	// WorktreeIncremental, WorktreeReset or WorktreePartial.
	Worktree string
	// Skipped are the paths of Head that were not checked out (with
	// WorktreePartial).
	Skipped []SkippedPath
}

// How Sync brought the worktree to the tip, cheapest first.
const (
	// WorktreeClean: the files already were the tip's.
	WorktreeClean = "clean"
	// WorktreeIncremental: the files were the old tip's; only those the
	// new tip changed were written.
	WorktreeIncremental = "incremental"
	// WorktreeReset: a hard reset and the removal of untracked files.
	WorktreeReset = "reset"
	// WorktreePartial: the tip holds paths git does not check out
	// (SyncResult.Skipped); every other file was written afresh.
	WorktreePartial = "partial"
)

// Sync brings the working copy to the tip of the remote branch: a shallow
// single-branch clone the first time; later one ref list, a fetch of the
// new commits only when the tip moved, and the files brought to the tip
// (SyncResult.Worktree says how), untracked files removed. A directory that
// is missing, not a repository, cloned from another URL, or that cannot be
// fetched into or reset is removed and cloned again: it is never trusted.
// Problems reaching the remote return an error and leave the directory as
// it is.
func (r *Repo) Sync(ctx context.Context) (SyncResult, error) {
	refs, err := r.listRemote(ctx)
	if err != nil {
		return SyncResult{}, err
	}
	follow := r.opts.Branch
	if r.opts.PushBranch != "" {
		if _, ok := refs[r.opts.PushBranch]; ok {
			follow = r.opts.PushBranch
		}
	}
	tip, ok := refs[follow]
	if !ok {
		return SyncResult{}, r.errorf("syncing %s: branch %q not found on the remote", r.opts.URL, follow)
	}
	res := SyncResult{Branch: follow, Head: tip.String()}

	reason := r.update(ctx, follow, tip, &res)
	if reason != "" {
		if err := r.clone(ctx, follow); err != nil {
			return SyncResult{}, err
		}
		res.Cloned, res.Reason, res.Fetched = true, reason, false
		if res.Worktree, err = r.checkout(follow, tip); err != nil {
			return SyncResult{}, r.errorf("checking out %s of a fresh clone of %s: %w", follow, r.opts.URL, err)
		}
	}
	r.follow, r.head = follow, tip
	res.Skipped = r.skipped
	r.markUsed()
	r.log.Info("working copy synced", "url", r.opts.URL, "branch", follow, "head", tip.String(),
		"cloned", res.Cloned, "reason", res.Reason, "fetched", res.Fetched, "worktree", res.Worktree)
	return res, nil
}

// update brings an existing working copy to tip. It returns why the copy
// cannot be trusted instead ("" when it succeeded).
func (r *Repo) update(ctx context.Context, follow string, tip plumbing.Hash, res *SyncResult) string {
	if _, err := os.Stat(r.dir); errors.Is(err, os.ErrNotExist) {
		return "no working copy yet"
	}
	if reason := overgrown(r.dir); reason != "" {
		return reason
	}
	repo, err := openRepo(r.dir, r.opts.maxObjectSize())
	if err != nil {
		return fmt.Sprintf("not a git repository: %v", err)
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return fmt.Sprintf("no remote origin: %v", err)
	}
	if urls := remote.Config().URLs; len(urls) != 1 || urls[0] != r.opts.URL {
		return fmt.Sprintf("remote origin is %q, not %q", redactURL(strings.Join(urls, " ")), r.opts.URL)
	}
	r.repo = repo
	tracking := plumbing.NewRemoteReferenceName("origin", follow)
	if ref, err := repo.Reference(tracking, false); err != nil || ref.Hash() != tip || !r.hasCommit(tip) {
		// When the copy holds the old tip, fetch without a depth: the
		// server sends just the new commits. A depth-1 fetch into a
		// shallow repository gets the whole tree again, as much as a
		// clone. (A rewritten history then costs its whole length once.)
		depth := 1
		if err == nil && r.hasCommit(ref.Hash()) {
			depth = 0
		}
		if err := r.fetch(ctx, depth, follow); err != nil {
			r.repo = nil
			return fmt.Sprintf("fetch failed: %v", err)
		}
		res.Fetched = true
	}
	if res.Worktree, err = r.checkout(follow, tip); err != nil {
		r.repo = nil
		return fmt.Sprintf("reset failed: %v", err)
	}
	return ""
}

// hasCommit reports whether the working copy holds commit h. The last
// commit found is remembered for the repository it was found in (objects
// are only ever added to it): an unchanged Sync asks for its tip twice,
// and decoding a commit is most of what that costs.
func (r *Repo) hasCommit(h plumbing.Hash) bool {
	if r.found.repo == r.repo && r.found.commit == h {
		return true
	}
	if _, err := object.GetCommit(r.repo.Storer, h); err != nil {
		return false
	}
	r.found.repo, r.found.commit = r.repo, h
	return true
}

// fetch fetches the given remote branches into their tracking refs, depth
// commits deep (0: all).
func (r *Repo) fetch(ctx context.Context, depth int, branches ...string) error {
	specs := make([]config.RefSpec, len(branches))
	for i, b := range branches {
		specs[i] = config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", b, b))
	}
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   specs,
		Depth:      depth,
		Auth:       r.auth,
		Tags:       git.NoTags,
		Progress:   r.opts.Progress,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return r.errorf("fetching %s of %s: %w", strings.Join(branches, ", "), r.opts.URL, err)
	}
	return nil
}

// checkout points the local branch follow and HEAD at tip and makes the
// worktree match it, the cheapest way that is safe: nothing when it already
// matches, only the changed files when it exactly matched the old tip, else
// a hard reset and the removal of untracked files (such as the temp files
// of an apply that was killed).
func (r *Repo) checkout(follow string, tip plumbing.Hash) (string, error) {
	if !r.hasCommit(tip) {
		return "", fmt.Errorf("commit %s is missing", tip)
	}
	wasAt := plumbing.ZeroHash
	if head, err := r.repo.Head(); err == nil {
		wasAt = head.Hash()
	}
	if err := r.setRefs(follow, tip); err != nil {
		return "", err
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return "", err
	}
	if wasAt == tip {
		if r.unchanged(tip) {
			return WorktreeClean, nil
		}
		if st, err := wt.Status(); err == nil && st.IsClean() {
			// Rewrite the index so that files written just before it
			// stop looking racily clean, and the next check is the quick one.
			if idx, err := r.repo.Storer.Index(); err == nil && r.repo.Storer.SetIndex(idx) == nil {
				r.markSynced(tip)
			}
			return WorktreeClean, nil
		}
	}
	if !wasAt.IsZero() && r.unchanged(wasAt) {
		// The copy is exactly the old tip: write only what the new one
		// changed, instead of a reset that compares every file.
		if err := r.switchTo(wasAt, tip); err == nil {
			r.markSynced(tip)
			return WorktreeIncremental, nil
		}
	}
	r.skipped = nil
	if err := wt.Reset(&git.ResetOptions{Commit: tip, Mode: git.HardReset}); err != nil {
		// go-git refuses a whole checkout for one path it does not
		// write; write the others, and say which it was.
		skipped, serr := checkoutSafely(r.repo, r.dir, tip)
		if serr != nil {
			return "", fmt.Errorf("%w (writing the files without the paths git refuses failed too: %v)", err, serr)
		}
		if len(skipped) == 0 {
			return "", err
		}
		r.skipped = skipped
		return WorktreePartial, nil
	}
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return "", err
	}
	r.markSynced(tip)
	return WorktreeReset, nil
}

// syncedFile records the commit the index was last written for, with the
// index file's size and time: while they hold, the index is that commit's
// tree, and only the worktree needs checking.
const syncedFile = "imagebump-synced"

func (r *Repo) markSynced(commit plumbing.Hash) {
	p := filepath.Join(r.dir, ".git", syncedFile)
	fi, err := os.Stat(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		_ = os.Remove(p)
		return
	}
	_ = os.WriteFile(p, fmt.Appendf(nil, "%s %d %d\n", commit, fi.Size(), fi.ModTime().UnixNano()), 0o644)
}

// unchanged reports whether the working copy certainly is commit, judged
// by metadata as git status does before hashing anything: the index was
// written for commit and not since, every file matches its index entry's
// size, time and mode (and content, for a file as new as the index), and
// there is no other file. A symlink or submodule answers false, and the
// caller asks go-git's status.
func (r *Repo) unchanged(commit plumbing.Hash) bool {
	b, err := os.ReadFile(filepath.Join(r.dir, ".git", syncedFile))
	if err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(r.dir, ".git", "index"))
	if err != nil || string(b) != fmt.Sprintf("%s %d %d\n", commit, fi.Size(), fi.ModTime().UnixNano()) {
		return false
	}
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return false
	}
	entries := make(map[string]*index.Entry, len(idx.Entries))
	for _, e := range idx.Entries {
		if e.Mode != filemode.Regular && e.Mode != filemode.Executable {
			return false
		}
		entries[e.Name] = e
	}
	seen := 0
	err = filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == filepath.Join(r.dir, ".git") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(r.dir, p)
		if err != nil {
			return err
		}
		e, ok := entries[filepath.ToSlash(rel)]
		if !ok || !d.Type().IsRegular() {
			return errDirty
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode, err := filemode.NewFromOSFileMode(info.Mode())
		if err != nil || mode != e.Mode || uint32(info.Size()) != e.Size || !info.ModTime().Equal(e.ModifiedAt) {
			return errDirty
		}
		if !info.ModTime().Before(fi.ModTime()) {
			// Racily clean: written in the same clock tick as the index,
			// so it could have changed since without its time showing it.
			// Only its content can tell.
			if h, err := blobHash(p, info.Size()); err != nil || h != e.Hash {
				return errDirty
			}
		}
		seen++
		return nil
	})
	return err == nil && seen == len(entries)
}

var errDirty = errors.New("worktree differs")

// Limits on what a working copy gathers over weeks of fetches and commits
// before it is cloned afresh (overgrown): go-git reads the index of every
// pack a lookup may need (an unchanged Sync took 10 ms with one pack, 25
// with 51 and 62 with 201 on a 500-file repository), and each commit the
// bot makes adds loose objects, files that no one removes. git gc --auto
// packs at 6,700 loose objects (estimated as it does, from one of the 256
// object directories); packs are bounded lower than its 50, as go-git
// has no multi-pack index. A fresh clone is shallow: its history is one
// commit.
const (
	maxPacks        = 16
	maxLooseObjects = 6700
)

// overgrown says why the working copy in dir should be cloned afresh, or
// "" when it should not.
func overgrown(dir string) string {
	objects := filepath.Join(dir, ".git", "objects")
	packs, _ := filepath.Glob(filepath.Join(objects, "pack", "*.pack"))
	if len(packs) > maxPacks {
		return fmt.Sprintf("%d packs from earlier fetches (more than %d): cloned afresh to compact the copy", len(packs), maxPacks)
	}
	// As git gc --auto estimates: the loose objects of one of the 256
	// directories their hashes spread them over.
	if sample, err := os.ReadDir(filepath.Join(objects, "17")); err == nil && len(sample)*256 > maxLooseObjects {
		return fmt.Sprintf("about %d loose objects from earlier commits (more than %d): cloned afresh to compact the copy", len(sample)*256, maxLooseObjects)
	}
	return ""
}

// blobHash is the hash of the file p, size bytes long, as a git blob. It
// reads the file as a stream: a large file of a hostile commit costs no
// memory.
func blobHash(p string, size int64) (plumbing.Hash, error) {
	f, err := os.Open(p)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer f.Close()
	h := plumbing.NewHasher(plumbing.BlobObject, size)
	if _, err := io.Copy(h, f); err != nil {
		return plumbing.ZeroHash, err
	}
	return h.Sum(), nil
}

// switchTo changes a worktree and index that are exactly commit from into
// commit to, touching only the files that differ. It gives up (and the
// caller resets) on anything but regular files. Stopped halfway, it leaves
// files that no longer match the index, which the next check sees.
func (r *Repo) switchTo(from, to plumbing.Hash) error {
	s := r.repo.Storer
	trees := make([]*object.Tree, 2)
	for i, h := range []plumbing.Hash{from, to} {
		c, err := object.GetCommit(s, h)
		if err != nil {
			return err
		}
		if trees[i], err = c.Tree(); err != nil {
			return err
		}
	}
	changes, err := object.DiffTree(trees[0], trees[1])
	if err != nil {
		return err
	}
	idx, err := s.Index()
	if err != nil {
		return err
	}
	regular := func(m filemode.FileMode) bool { return m == filemode.Regular || m == filemode.Executable }
	// Removals first: a file may give way to a directory of that name.
	for _, c := range changes {
		if c.From.Name == "" || c.From.Name == c.To.Name {
			continue
		}
		if !regular(c.From.TreeEntry.Mode) {
			return errDirty
		}
		p := filepath.Join(r.dir, filepath.FromSlash(c.From.Name))
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if _, err := idx.Remove(c.From.Name); err != nil {
			return err
		}
		// Like git, drop directories the removal left empty.
		for dir := filepath.Dir(p); dir != r.dir && os.Remove(dir) == nil; dir = filepath.Dir(dir) {
		}
	}
	for _, c := range changes {
		if c.To.Name == "" {
			continue
		}
		mode := c.To.TreeEntry.Mode
		if !regular(mode) {
			return errDirty
		}
		blob, err := object.GetBlob(s, c.To.TreeEntry.Hash)
		if err != nil {
			return err
		}
		rd, err := blob.Reader()
		if err != nil {
			return err
		}
		content, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if mode == filemode.Executable {
			perm = 0o755
		}
		p := filepath.Join(r.dir, filepath.FromSlash(c.To.Name))
		if err := writeAtomic(p, content, perm); err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e, err := idx.Entry(c.To.Name)
		if err != nil {
			e = idx.Add(c.To.Name)
		}
		e.Hash, e.Mode = c.To.TreeEntry.Hash, mode
		e.Size, e.ModifiedAt = uint32(fi.Size()), fi.ModTime()
	}
	return s.SetIndex(idx)
}

// setRefs points the local branch follow, its tracking ref and HEAD at
// tip.
func (r *Repo) setRefs(follow string, tip plumbing.Hash) error {
	local := plumbing.NewBranchReferenceName(follow)
	for _, ref := range []*plumbing.Reference{
		plumbing.NewHashReference(local, tip),
		plumbing.NewHashReference(plumbing.NewRemoteReferenceName("origin", follow), tip),
		plumbing.NewSymbolicReference(plumbing.HEAD, local),
	} {
		// An unchanged tip, the daemon's usual tick, writes nothing.
		if cur, err := r.repo.Storer.Reference(ref.Name()); err == nil && cur.Type() == ref.Type() && cur.Hash() == ref.Hash() && cur.Target() == ref.Target() {
			continue
		}
		if err := r.repo.Storer.SetReference(ref); err != nil {
			return err
		}
	}
	return nil
}

// advance moves the working copy to commit, which is HEAD plus files: it
// writes just those files and their index entries instead of resetting the
// whole tree. Should anything here go wrong, the next Sync finds git status
// unclean and resets.
func (r *Repo) advance(branch string, commit plumbing.Hash, files []File) error {
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(f.Path))
		mode := os.FileMode(0o644)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			mode = fi.Mode().Perm()
		}
		if err := writeAtomic(p, f.Content, mode); err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e, err := idx.Entry(f.Path)
		if err != nil {
			e = idx.Add(f.Path)
		}
		e.Hash = plumbing.ComputeHash(plumbing.BlobObject, f.Content)
		e.Size = uint32(fi.Size())
		e.ModifiedAt = fi.ModTime()
		if e.Mode, err = filemode.NewFromOSFileMode(fi.Mode()); err != nil {
			return err
		}
	}
	if err := r.repo.Storer.SetIndex(idx); err != nil {
		return err
	}
	if err := r.setRefs(branch, commit); err != nil {
		return err
	}
	r.markSynced(commit)
	return nil
}

// writeAtomic writes a file through a temp file in its directory, so a
// killed process leaves the old content or the new, never half of it.
func writeAtomic(p string, content []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".imagebump-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// clone clones branch afresh: into a temp directory next to the working
// copy, renamed into place only when complete, so a clone cut short is
// never mistaken for a working copy.
func (r *Repo) clone(ctx context.Context, branch string) error {
	if err := os.MkdirAll(r.opts.WorkDir, 0o755); err != nil {
		return fmt.Errorf("creating workDir: %w", err)
	}
	base := filepath.Base(r.dir)
	// Leftovers of clones that were killed.
	if old, err := filepath.Glob(filepath.Join(r.opts.WorkDir, "."+base+".clone-*")); err == nil {
		for _, o := range old {
			_ = os.RemoveAll(o)
		}
	}
	tmp, err := os.MkdirTemp(r.opts.WorkDir, "."+base+".clone-")
	if err != nil {
		return fmt.Errorf("creating a clone directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	repo, err := git.CloneContext(ctx, newStorage(osfs.New(filepath.Join(tmp, git.GitDirName)), r.opts.maxObjectSize()), osfs.New(tmp), &git.CloneOptions{
		URL:           r.opts.URL,
		Auth:          r.auth,
		RemoteName:    "origin",
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
		Progress:      r.opts.Progress,
		// Sync checks the tip out next: a checkout that fails there
		// keeps the objects, so the error can name the path at fault.
		NoCheckout: true,
	})
	if err != nil {
		return r.errorf("cloning %s: %w", r.opts.URL, err)
	}
	_ = repo
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("removing the old working copy: %w", err)
	}
	if err := os.Rename(tmp, r.dir); err != nil {
		return fmt.Errorf("moving the clone into place: %w", err)
	}
	r.repo, err = openRepo(r.dir, r.opts.maxObjectSize())
	if err != nil {
		return fmt.Errorf("opening the fresh clone: %w", err)
	}
	return nil
}

// listRemote returns the remote's branches (name → tip): one request, the
// ref advertisement.
func (r *Repo) listRemote(ctx context.Context) (map[string]plumbing.Hash, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{r.opts.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return nil, r.errorf("listing the branches of %s: %w", r.opts.URL, err)
	}
	m := make(map[string]plumbing.Hash, len(refs))
	for _, ref := range refs {
		if ref.Name().IsBranch() && ref.Type() == plumbing.HashReference {
			m[ref.Name().Short()] = ref.Hash()
		}
	}
	return m, nil
}
