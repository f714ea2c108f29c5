//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
)

// command runs the test binary as imagebump (see TestMain) with args.
func command(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append([]string{reexecEnv + "=1", "DOCKER_CONFIG=" + t.TempDir()}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// markedTree writes a policy file for reg's acme/web and the given
// manifests, each "NAME" holding content.
func markedTree(t *testing.T, reg *registrytest.Registry, files map[string]string) string {
	t.Helper()
	all := maps.Clone(files)
	all[".imagebump.yaml"] = "policies:\n  - {name: web, image: " + reg.Repo("acme/web") + ", semver: '*'}\n"
	return filetree.Write(t, all)
}

func marked(reg *registrytest.Registry, tag string) string {
	return "image: " + reg.Repo("acme/web") + ":" + tag + " # {\"$imagepolicy\": \"web\"}\n"
}

// TestApplyReportsUnwritableFile makes one file impossible to write, for
// root too (it is larger than the process may write), and checks that
// apply writes the others and reports each file, in text and JSON.
func TestApplyReportsUnwritableFile(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.10.0")
	const limit = 16 << 10
	files := map[string]string{
		"a.yaml":     marked(reg, "1.0.0"),
		"big/b.yaml": marked(reg, "1.0.0") + "# " + strings.Repeat("x", limit) + "\n",
		"z.yaml":     marked(reg, "1.0.0"),
	}
	for _, output := range []string{"json", "text"} {
		t.Run(output, func(t *testing.T) {
			dir := markedTree(t, reg, files)
			before := filetree.Read(t, dir)
			cmd, stdout, stderr := command(t, []string{fmt.Sprintf("%s=%d", fileSizeEnv, limit)}, "apply", dir, "-o", output)
			if code := exitStatus(t, cmd.Run()); code != exitFailed {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr)
			}
			if !strings.Contains(stderr.String(), "1 of 3 file(s) not written") {
				t.Errorf("stderr does not say a file was not written:\n%s", stderr)
			}
			after := filetree.Read(t, dir)
			want := maps.Clone(before)
			want["a.yaml"] = marked(reg, "1.10.0")
			want["z.yaml"] = marked(reg, "1.10.0")
			if diff := cmp.Diff(want, after); diff != "" {
				t.Errorf("tree after apply (-want +got):\n%s", diff)
			}
			if output == "text" {
				out := stdout.String()
				for _, s := range []string{"a.yaml:1 ", "z.yaml:1 ", "2 value(s) in 2 file(s) changed.", "Not written:\n  big/b.yaml: 1 value(s): ", "file too large"} {
					if !strings.Contains(out, s) {
						t.Errorf("output lacks %q:\n%s", s, out)
					}
				}
				if strings.Contains(out, "big/b.yaml:1 ") {
					t.Errorf("the table lists a change that was not written:\n%s", out)
				}
				return
			}
			var got planReport
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("%v in %q", err, stdout)
			}
			if len(got.Files) == 3 && strings.Contains(got.Files[1].Error, "file too large") {
				got.Files[1].Error = "file too large"
			}
			wantFiles := []planFile{{File: "a.yaml", Written: true}, {File: "big/b.yaml", Error: "file too large"}, {File: "z.yaml", Written: true}}
			if diff := cmp.Diff(wantFiles, got.Files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if len(got.Changes) != 3 {
				t.Errorf("changes: %+v, want the 3 planned", got.Changes)
			}
		})
	}
}

// writeTree writes n marked files f0000.yaml... for apply to change.
func writeTree(t *testing.T, reg *registrytest.Registry, n int) string {
	t.Helper()
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("f%04d.yaml", i)] = marked(reg, "1.0.0")
	}
	return markedTree(t, reg, files)
}

// signalWhenWriting starts cmd and sends it sig as soon as it has replaced
// dir's first file, the first one apply writes.
func signalWhenWriting(t *testing.T, cmd *exec.Cmd, dir string, sig syscall.Signal) error {
	t.Helper()
	first := filepath.Join(dir, "f0000.yaml")
	fi, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			t.Logf("apply ended before it was signaled")
			return err
		default:
		}
		if fi, err := os.Stat(first); err == nil && fi.Sys().(*syscall.Stat_t).Ino != ino {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return <-done
}

// TestApplyInterrupted sends apply SIGTERM while it writes, and checks that
// it stops starting files, reports exactly the ones it wrote and the ones
// it did not, and exits 1. A tree too small to be caught mid-write is
// retried larger.
func TestApplyInterrupted(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.10.0")
	for n := 500; ; n *= 4 {
		if n > 32000 {
			t.Fatal("apply always finished before SIGTERM reached it")
		}
		dir := writeTree(t, reg, n)
		cmd, stdout, stderr := command(t, nil, "apply", dir, "-o", "json")
		code := exitStatus(t, signalWhenWriting(t, cmd, dir, syscall.SIGTERM))
		var got planReport
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("%v in %q; stderr:\n%s", err, stdout, stderr)
		}
		tree := filetree.Read(t, dir)
		var written, notWritten int
		for _, f := range got.Files {
			changed := tree[f.File] == marked(reg, "1.10.0")
			if changed != f.Written {
				t.Errorf("%s: reported written=%v, but changed=%v", f.File, f.Written, changed)
			}
			if f.Written {
				written++
				continue
			}
			notWritten++
			if !strings.Contains(f.Error, "interrupted before it was written") {
				t.Errorf("%s: error %q, want it to say apply was interrupted", f.File, f.Error)
			}
		}
		if len(got.Files) != n {
			t.Fatalf("the report has %d files, want %d", len(got.Files), n)
		}
		for name := range tree {
			if patcher.IsTemporary(filepath.Base(name)) {
				t.Errorf("temporary file left after SIGTERM: %s", name)
			}
		}
		if notWritten == 0 {
			t.Logf("%d files: all written before SIGTERM; trying more", n)
			continue
		}
		if code != exitFailed {
			t.Errorf("exit %d, want %d", code, exitFailed)
		}
		if want := fmt.Sprintf("%d of %d file(s) not written", notWritten, n); !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
		t.Logf("%d files: %d written, %d not", n, written, notWritten)
		return
	}
}

// TestApplyKilled kills apply with SIGKILL while it writes until a kill
// leaves a temporary file behind, then checks that the next apply removes
// it and ends with the tree an uninterrupted apply makes.
func TestApplyKilled(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.10.0")
	const n = 500
	pristine := writeTree(t, reg, n)
	if _, stderr, code := runCLI(t, "apply", pristine); code != 0 {
		t.Fatalf("uninterrupted apply: exit %d: %s", code, stderr)
	}
	want := filetree.Read(t, pristine)
	for attempt := 1; ; attempt++ {
		if attempt > 20 {
			t.Fatal("no SIGKILL left a temporary file")
		}
		dir := writeTree(t, reg, n)
		cmd, _, _ := command(t, nil, "apply", dir)
		err := signalWhenWriting(t, cmd, dir, syscall.SIGKILL)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			continue // it finished first
		}
		var temps []string
		for name := range filetree.Read(t, dir) {
			if patcher.IsTemporary(filepath.Base(name)) {
				temps = append(temps, name)
			}
		}
		if len(temps) == 0 {
			continue
		}
		slices.Sort(temps)
		t.Logf("attempt %d left %v", attempt, temps)
		out, stderr, code := runCLI(t, "apply", dir)
		if code != 0 {
			t.Fatalf("apply after the kill: exit %d: %s", code, stderr)
		}
		if diff := cmp.Diff(want, filetree.Read(t, dir)); diff != "" {
			t.Errorf("tree after kill and apply differs from an uninterrupted apply (-want +got):\n%s", diff)
		}
		if !strings.Contains(out, "Warnings:\n  "+temps[0]+": warning: temporary file left by an interrupted apply") {
			t.Errorf("the second apply does not mention %s:\n%s", temps[0], out)
		}
		return
	}
}
