package main

import (
	"errors"
	"os/exec"
	"testing"
)

// TestDemo keeps the README's first command true: the demo plans changes
// to the example fleet (exit status 3 with --exit-code means "there are
// changes and nothing failed").
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	t.Chdir("../..")
	err := run([]string{"plan", "--exit-code"})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("demo plan --exit-code = %v, want exit status 3", err)
	}
}
