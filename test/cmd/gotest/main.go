// Command gotest runs go test with -json and prints what go test alone
// prints (ok and FAIL lines, the output of failed tests), plus one line per
// skipped test with its reason, and closes with a summary of how many tests
// were skipped and why, so that a run with skips never reads as a full run.
// make test runs the tests through it.
//
//	go run ./test/cmd/gotest [-summary FILE] [go test flags] [packages]
//
// -summary FILE also writes the summary to FILE (make test prints it again
// as its last lines, after fuzzing). The exit status is go test's.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	args := os.Args[1:]
	var summaryFile string
	if len(args) >= 2 && args[0] == "-summary" {
		summaryFile, args = args[1], args[2:]
	}
	os.Exit(run("", os.Stdout, os.Stderr, summaryFile, args))
}

// run runs go test -json ARGS in dir and returns the exit status.
func run(dir string, stdout, stderr io.Writer, summaryFile string, args []string) int {
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Dir, cmd.Stderr = dir, stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "gotest: %v\n", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "gotest: %v\n", err)
		return 1
	}
	rep, renderErr := render(out, stdout)
	waitErr := cmd.Wait()
	summary := rep.Summary()
	io.WriteString(stdout, summary)
	if summaryFile != "" {
		if err := os.WriteFile(summaryFile, []byte(summary), 0o644); err != nil {
			fmt.Fprintf(stderr, "gotest: writing the summary: %v\n", err)
			return 1
		}
	}
	if renderErr != nil {
		fmt.Fprintf(stderr, "gotest: reading go test's output: %v\n", renderErr)
		return 1
	}
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit):
		return exit.ExitCode()
	case waitErr != nil:
		fmt.Fprintf(stderr, "gotest: %v\n", waitErr)
		return 1
	case rep.Failed > 0:
		return 1
	}
	return 0
}
