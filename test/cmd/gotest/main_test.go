package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRun runs go test on the packages of testdata/fixture, whose tests
// pass, skip, fail and time out on purpose, and checks what is printed.
func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantExit int
		want     []string // lines that must be printed
		notWant  []string // substrings that must not be
		wantLast string   // the closing line
	}{
		{
			name: "pass",
			args: []string{"./pass"},
			want: []string{"ok  \tfixture/pass"},
			// go test without -v prints neither passing tests' logs nor PASS.
			notWant:  []string{"passing log", "passing sub log", "PASS\n", "=== RUN"},
			wantLast: "full run: all 3 tests passed; none skipped",
		},
		{
			name: "skip",
			args: []string{"./skip"},
			want: []string{
				"--- SKIP: TestMissing (fixture/skip): thing not found: apt-get install thing",
				"--- SKIP: TestSub/a (fixture/skip): other reason",
				"--- SKIP: TestSub/b (fixture/skip): other reason",
				"ok  \tfixture/skip",
				"skipped tests, by reason:",
				"    1  thing not found: apt-get install thing",
				"    2  other reason",
			},
			notWant:  []string{"looking for thing"},
			wantLast: "NOT A FULL RUN: 3 of 5 tests skipped (2 reasons listed above); 2 passed, 0 failed",
		},
		{
			name:     "fail",
			args:     []string{"./fail"},
			wantExit: 1,
			want: []string{
				"    fail_test.go:5: broken here",
				"--- FAIL: TestBad (0.00s)",
				"    fail_test.go:9: loud failure",
				"--- FAIL: TestMixed/loud (0.00s)",
				"--- FAIL: TestMixed (0.00s)",
				"FAIL",
			},
			notWant:  []string{"quiet log", "good log", "TestMixed/quiet", "TestGood"},
			wantLast: "FAIL: 3 of 5 tests failed; 1 package failed (fixture/fail); none skipped",
		},
		{
			name:     "timeout",
			args:     []string{"-timeout", "2s", "./hang"},
			wantExit: 1,
			// A test cut by the timeout never reports a result; its
			// output, the panic's, is printed all the same.
			want:     []string{"    hang_test.go:9: about to hang", "panic: test timed out after 2s"},
			wantLast: "FAIL: 0 of 1 tests failed, 1 did not finish; 1 package failed (fixture/hang); none skipped",
		},
		{
			// No test reports anything: the package's failure alone must
			// keep the run from reading as a full one.
			name:     "build failure",
			args:     []string{"./broken", "./pass"},
			wantExit: 1,
			want:     []string{"# fixture/broken", "FAIL\tfixture/broken [build failed]", "ok  \tfixture/pass"},
			wantLast: "FAIL: 0 of 3 tests failed; 1 package failed (fixture/broken); none skipped",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			exit := run("testdata/fixture", &stdout, &stderr, "", append([]string{"-count=1"}, tc.args...))
			out := stdout.String()
			if (exit == 0) != (tc.wantExit == 0) {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", exit, tc.wantExit, out, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for _, w := range tc.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("no line starting %q in:\n%s", w, out)
				}
			}
			for _, n := range tc.notWant {
				if strings.Contains(out, n) {
					t.Errorf("%q printed:\n%s", n, out)
				}
			}
			if diff := cmp.Diff(tc.wantLast, lines[len(lines)-1]); diff != "" {
				t.Errorf("closing line (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSummaryFile checks that -summary writes the closing lines, as
// printed, to the file make test prints last.
func TestSummaryFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "summary")
	var stdout, stderr bytes.Buffer
	if exit := run("testdata/fixture", &stdout, &stderr, file, []string{"-count=1", "./pass", "./skip"}); exit != 0 {
		t.Fatalf("exit status %d\n%s%s", exit, stdout.String(), stderr.String())
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "skipped tests, by reason:\n") || !strings.HasSuffix(stdout.String(), string(got)) {
		t.Errorf("summary file:\n%s\nis not the end of the output:\n%s", got, stdout.String())
	}
	const last = "NOT A FULL RUN: 3 of 8 tests skipped (2 reasons listed above); 5 passed, 0 failed\n"
	if !strings.HasSuffix(string(got), last) {
		t.Errorf("summary file:\n%s\ndoes not end with %q", got, last)
	}
}
