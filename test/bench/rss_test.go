package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gnuTime is GNU time, which measures the benchmarks' processes.
const gnuTime = "/usr/bin/time"

// measured returns a command running name with args under GNU time, and a
// function that, once the command has run, returns its peak RSS in KiB.
//
// The rusage of a process os/exec started cannot give it: on Linux such a
// child is started with vfork (it shares the parent's memory until it
// execs), and exec records the memory it leaves as the child's peak RSS,
// so the benchmark's own memory (a registry, a generated blob) would show
// as the child's. GNU time forks, and passes on its own few megabytes at
// most. CPU time is still the command's rusage: the time process's own
// is negligible.
func measured(b testing.TB, name string, args ...string) (*exec.Cmd, func() int64) {
	b.Helper()
	if _, err := os.Stat(gnuTime); err != nil {
		b.Fatalf("the benchmarks measure peak memory with GNU time: %v (Debian package time)", err)
	}
	out := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", out, name}, args...)...)
	return cmd, func() int64 {
		b.Helper()
		s, err := os.ReadFile(out)
		if err != nil {
			b.Fatalf("reading GNU time's output: %v", err)
		}
		// A command that failed has a line before the figure.
		lines := strings.Fields(strings.TrimSpace(string(s)))
		kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
		if err != nil {
			b.Fatalf("GNU time wrote %q: %v", s, err)
		}
		return kib
	}
}
