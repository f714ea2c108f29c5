//go:build unix

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/imagebump/imagebump/test/unprivileged"
)

// TestMakePackages runs make packages, the set-up step of make test that
// checks for the Debian packages the tests need, as a user other than root,
// with TEST_PACKAGES naming packages that are and are not there. It must
// stop at once with the command that installs the missing ones, and say
// nothing when none is missing. (As root it installs them; .ci/run runs
// that.)
func TestMakePackages(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		msg := "make not found: apt-get install make to test the Makefile"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// A directory any user may read: the run may be as nobody.
	dir, err := os.MkdirTemp("", "makefile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), makefile, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		packages string // TEST_PACKAGES: PACKAGE:FILE ...
		wantOK   bool
		want     string
	}{
		{
			name:     "all there",
			packages: "dash:/bin/sh coreutils:ls",
			wantOK:   true,
		},
		{
			name:     "two missing",
			packages: "dash:/bin/sh imagebump-no-a:/nonexistent/a coreutils:ls imagebump-no-b:imagebump-no-such-command",
			want: "make: the tests need Debian packages that are missing: imagebump-no-a imagebump-no-b. Install them, then run make again:\n" +
				"    sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends imagebump-no-a imagebump-no-b'\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("make", "-s", "--no-print-directory", "packages", "TEST_PACKAGES="+tc.packages)
			cmd.Dir = dir
			// Run under make test, the outer make's variables would make
			// this one a sub-make (make[1]: …) with the outer flags.
			cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
				name, _, _ := strings.Cut(kv, "=")
				return name == "MAKEFLAGS" || name == "MFLAGS" || name == "MAKELEVEL" || name == "MAKEOVERRIDES"
			})
			if os.Geteuid() == 0 {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivileged.Nobody, Gid: unprivileged.Nobody, Groups: []uint32{}}}
			}
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tc.wantOK {
				t.Errorf("make packages: error %v, want success %v; output:\n%s", err, tc.wantOK, out)
			}
			got, _, _ := strings.Cut(string(out), "make: *** ")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}
