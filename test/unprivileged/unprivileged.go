package unprivileged

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Nobody is the user and group id a test is run as: the conventional
// "nobody", which owns nothing.
const Nobody = 65534

// Run makes the calling test run without root's privileges. When the
// process is not root it returns false and the test goes on here. As root
// it runs the test again, in a copy of the test binary that any user may
// execute, as user Nobody; reports that run's output and outcome as the
// test's; and returns true: the caller then returns at once.
//
// Where the run as Nobody cannot be started (no permission to change user,
// not a Unix system) the test is skipped, or fails when CI=true.
func Run(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	// The go command keeps test binaries in a directory only their owner
	// can enter.
	dir, err := os.MkdirTemp("", "unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(exe))
	if err := copyFile(bin, exe); err != nil {
		t.Fatalf("copying the test binary: %v", err)
	}
	cmd := exec.Command(bin, "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot run the test as uid %d: %v", Nobody, err)
		}
		t.Skipf("cannot run the test as uid %d: %v", Nobody, err)
	case err != nil:
		t.Errorf("run as uid %d failed (%v):\n%s", Nobody, err, out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Errorf("run as uid %d did not run the test:\n%s", Nobody, out)
	default:
		t.Logf("run as uid %d:\n%s", Nobody, out)
	}
	return true
}

// runPattern is the -test.run pattern that selects exactly the test name,
// subtests included.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
