package gitwriter

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// largeObject is the size above which go-git reads an object from its pack
// as a stream instead of into memory: a checkout then writes a large file
// of a hostile commit (the bot never reads a manifest above
// limits.maxFileSize) without holding it, or several copies of it, in
// memory. Manifests are far smaller, and read as before.
const largeObject = 1 << 20

// objectCacheSize bounds go-git's cache of decoded objects per repository
// (its default is 96 MiB): a pass reads a few trees and small blobs.
const objectCacheSize = 16 * cache.MiByte

// storage is the object and reference storage of a working copy: go-git's,
// with every pack a clone or fetch receives checked by a packGuard.
type storage struct {
	*filesystem.Storage
	maxObject int64
}

// newStorage is the storage of the working copy whose .git directory is
// dot, refusing objects larger than maxObject.
func newStorage(dot billy.Filesystem, maxObject int64) *storage {
	return &storage{
		Storage:   filesystem.NewStorageWithOptions(dot, cache.NewObjectLRU(objectCacheSize), filesystem.Options{LargeObjectThreshold: largeObject}),
		maxObject: maxObject,
	}
}

// PackfileWriter is what go-git writes a received pack to.
func (s *storage) PackfileWriter() (io.WriteCloser, error) {
	w, err := s.Storage.PackfileWriter()
	if err != nil {
		return nil, err
	}
	return guardPack(w, s.maxObject), nil
}

// openRepo opens the working copy in dir, as git.PlainOpen does for a
// .git directory (never a .git file, which no clone of Sync has), with
// newStorage.
func openRepo(dir string, maxObject int64) (*git.Repository, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	wt := osfs.New(abs)
	fi, err := wt.Stat(git.GitDirName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, git.ErrRepositoryNotExists
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is not a directory", filepath.Join(abs, git.GitDirName))
	}
	dot, err := wt.Chroot(git.GitDirName)
	if err != nil {
		return nil, err
	}
	return git.Open(newStorage(dot, maxObject), wt)
}
