package giteaserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Version is the Gitea release the tests run: its go directive (1.26.2)
// fits the pinned toolchain.
const Version = "v1.26.0"

// BuildTags are the tags Gitea's sqlite support needs.
const BuildTags = "sqlite sqlite_unlock_notify"

// Build is a built Gitea: the binary and the module directory it reads
// templates and options from (STATIC_ROOT_PATH; the build has no bindata).
type Build struct {
	Binary, StaticRoot string
}

// CacheDir is where the build of Version is kept:
// os.UserCacheDir()/imagebump/gitea-VERSION.
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache directory: %w", err)
	}
	return filepath.Join(dir, "imagebump", "gitea-"+Version), nil
}

// Cached returns the cached build, or ok false if there is none.
func Cached() (b Build, ok bool, err error) {
	dir, err := CacheDir()
	if err != nil {
		return Build{}, false, err
	}
	b = Build{Binary: filepath.Join(dir, "gitea"), StaticRoot: filepath.Join(dir, "src")}
	if _, err := os.Stat(b.Binary); err != nil {
		return b, false, nil
	}
	return b, true, nil
}

// BuildOrReuse returns the cached build of Version, building it first when
// there is none: the module is downloaded through the Go proxy, copied to
// the cache (the module cache is read-only), and built there. Test binaries
// of several packages may race for it; a lock file serialises them, and the
// binary is renamed into place only once built.
func BuildOrReuse() (Build, error) {
	if b, ok, err := Cached(); err != nil || ok {
		return b, err
	}
	dir, err := CacheDir()
	if err != nil {
		return Build{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Build{}, fmt.Errorf("creating the cache directory: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return Build{}, fmt.Errorf("opening the build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return Build{}, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if b, ok, err := Cached(); err != nil || ok {
		return b, err
	}
	return build(dir)
}

func build(dir string) (Build, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return Build{}, fmt.Errorf("building gitea: %w", err)
	}
	// Outside any module, so the download is not tied to imagebump's go.mod.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "gitea-build-")
	if err != nil {
		return Build{}, err
	}
	defer os.RemoveAll(tmp)
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
	out, err := run(tmp, env, goBin, "mod", "download", "-json", "code.gitea.io/gitea@"+Version)
	if err != nil {
		return Build{}, fmt.Errorf("downloading code.gitea.io/gitea@%s: %w", Version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return Build{}, fmt.Errorf("downloading code.gitea.io/gitea@%s: no module directory in %q (%v)", Version, out, err)
	}
	src := filepath.Join(tmp, "src")
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		return Build{}, fmt.Errorf("copying the gitea module out of the module cache: %w", err)
	}
	// The module cache's files are read-only; the copy must be removable.
	if err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}); err != nil {
		return Build{}, fmt.Errorf("making the gitea copy writable: %w", err)
	}
	if _, err := run(src, env, goBin, "build", "-tags", BuildTags, "-o", filepath.Join(tmp, "gitea"), "."); err != nil {
		return Build{}, fmt.Errorf("building gitea %s: %w", Version, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return Build{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Build{}, fmt.Errorf("moving the gitea build into the cache: %w", err)
	}
	b, _, err := Cached()
	return b, err
}

func run(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, tail(stderr.String()))
	}
	return out.Bytes(), nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
