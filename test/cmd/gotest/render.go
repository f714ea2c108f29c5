package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// event is one line of go test -json (cmd/test2json's TestEvent, plus the
// build events of Go 1.24).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// Report is what a run came to. Tests count subtests: every test that
// reported a result.
type Report struct {
	Passed, Failed, Skipped int
	// Unfinished counts tests that started and never reported a result:
	// the test binary timed out or crashed under them.
	Unfinished int
	Skips      []Skip
	// FailedPackages failed as a whole: their tests did not build, or
	// the binary failed outside any test.
	FailedPackages []string
}

// Skip is one skipped test and the last line it logged: its reason.
type Skip struct {
	Package, Test, Reason string
}

type line struct{ test, text string }

// pkgState is what is held back for one package until its tests end.
type pkgState struct {
	lines   []line   // test output not yet printed or dropped
	own     []string // the package's own output: ok or FAIL lines
	started map[string]bool
	failed  map[string]bool
}

// renderer holds back each package's test output until its tests end.
type renderer struct {
	w    io.Writer
	rep  Report
	pkgs map[string]*pkgState
}

// render reads go test -json from r and writes to w what go test without
// -json (and without -v) prints: package lines as each package ends, the
// output of failed tests and, unlike go test, a line for every skipped test
// with its reason.
func render(r io.Reader, w io.Writer) (Report, error) {
	rn := &renderer{w: w, pkgs: map[string]*pkgState{}}
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 {
			var e event
			if json.Unmarshal(raw, &e) != nil || e.Action == "" {
				w.Write(raw) // not an event: pass it on as it is
			} else {
				rn.handle(e)
			}
		}
		if errors.Is(err, io.EOF) {
			return rn.rep, nil
		}
		if err != nil {
			return rn.rep, err
		}
	}
}

func (rn *renderer) pkg(name string) *pkgState {
	if rn.pkgs[name] == nil {
		rn.pkgs[name] = &pkgState{started: map[string]bool{}, failed: map[string]bool{}}
	}
	return rn.pkgs[name]
}

func (rn *renderer) handle(e event) {
	ended := e.Action == "pass" || e.Action == "fail" || e.Action == "skip"
	switch {
	case e.Action == "build-output":
		io.WriteString(rn.w, e.Output)
	case e.Package == "":
		// Other build events carry nothing to print.
	case e.Test == "" && e.Action == "output":
		// go test prints PASS only with -v.
		if e.Output != "PASS\n" {
			s := rn.pkg(e.Package)
			s.own = append(s.own, e.Output)
		}
	case e.Test == "" && ended:
		s := rn.pkg(e.Package)
		if e.Action == "fail" {
			rn.rep.FailedPackages = append(rn.rep.FailedPackages, e.Package)
			// Tests still running when the binary died: the timeout's
			// or the crash's output is theirs; print it all.
			rn.rep.Unfinished += len(s.started)
			printLines(rn.w, s.lines)
		}
		for _, o := range s.own {
			io.WriteString(rn.w, o)
		}
		delete(rn.pkgs, e.Package)
	case e.Action == "run":
		rn.pkg(e.Package).started[e.Test] = true
	case e.Action == "output":
		s := rn.pkg(e.Package)
		s.lines = append(s.lines, line{e.Test, e.Output})
	case ended:
		rn.testEnded(e)
	}
}

func (rn *renderer) testEnded(e event) {
	s := rn.pkg(e.Package)
	delete(s.started, e.Test)
	switch e.Action {
	case "pass":
		rn.rep.Passed++
	case "fail":
		rn.rep.Failed++
		s.failed[e.Test] = true
	case "skip":
		rn.rep.Skipped++
		sk := Skip{Package: e.Package, Test: e.Test, Reason: reason(s.lines, e.Test)}
		rn.rep.Skips = append(rn.rep.Skips, sk)
		fmt.Fprintf(rn.w, "--- SKIP: %s (%s): %s\n", e.Test, e.Package, sk.Reason)
	}
	if strings.Contains(e.Test, "/") {
		return // a subtest's lines go with its top-level test's
	}
	// Print the lines of this test and its subtests that failed (a failed
	// subtest fails its parents), drop the rest.
	var failed, rest []line
	for _, l := range s.lines {
		switch {
		case l.test != e.Test && !strings.HasPrefix(l.test, e.Test+"/"):
			rest = append(rest, l)
		case s.failed[l.test]:
			failed = append(failed, l)
		}
	}
	s.lines = rest
	printLines(rn.w, failed)
}

// printLines prints test output as go test -v does, without the === PAUSE
// and === CONT lines: each test's lines are together here.
func printLines(w io.Writer, lines []line) {
	for _, l := range lines {
		if !strings.HasPrefix(l.text, "=== PAUSE ") && !strings.HasPrefix(l.text, "=== CONT ") {
			io.WriteString(w, l.text)
		}
	}
}

// location is the file:line testing puts before a logged line.
var location = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// reason is the last line test logged before it was skipped: t.Skip logs
// its arguments as its last line.
func reason(lines []line, test string) string {
	for _, l := range slices.Backward(lines) {
		if l.test != test {
			continue
		}
		text := strings.TrimSpace(l.text)
		if text == "" || strings.HasPrefix(text, "=== ") || strings.HasPrefix(text, "--- ") {
			continue
		}
		return location.ReplaceAllString(text, "")
	}
	return "no reason given (t.SkipNow)"
}

// Summary is the closing lines of a run: the skipped tests grouped by
// reason, then one line with the counts that says whether this was a full
// run.
func (rep Report) Summary() string {
	var b strings.Builder
	var reasons []string
	byReason := map[string][]string{}
	for _, s := range rep.Skips {
		if byReason[s.Reason] == nil {
			reasons = append(reasons, s.Reason)
		}
		byReason[s.Reason] = append(byReason[s.Reason], s.Package+" "+s.Test)
	}
	if len(reasons) > 0 {
		b.WriteString("skipped tests, by reason:\n")
	}
	for _, r := range reasons {
		fmt.Fprintf(&b, "%5d  %s\n       %s\n", len(byReason[r]), r, strings.Join(byReason[r], ", "))
	}
	total := rep.Passed + rep.Failed + rep.Skipped + rep.Unfinished
	trouble := ""
	if rep.Unfinished > 0 {
		trouble = fmt.Sprintf(", %d did not finish", rep.Unfinished)
	}
	if n := len(rep.FailedPackages); n > 0 {
		trouble += fmt.Sprintf("; %s failed (%s)", plural(n, "package"), strings.Join(rep.FailedPackages, ", "))
	}
	switch {
	case rep.Skipped > 0:
		fmt.Fprintf(&b, "NOT A FULL RUN: %d of %d tests skipped (%s listed above); %d passed, %d failed%s\n",
			rep.Skipped, total, plural(len(reasons), "reason"), rep.Passed, rep.Failed, trouble)
	case rep.Failed > 0 || rep.Unfinished > 0 || len(rep.FailedPackages) > 0:
		fmt.Fprintf(&b, "FAIL: %d of %d tests failed%s; none skipped\n", rep.Failed, total, trouble)
	default:
		fmt.Fprintf(&b, "full run: all %d tests passed; none skipped\n", total)
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
