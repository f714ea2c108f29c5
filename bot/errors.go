package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/imagebump/imagebump/config"
)

// DeadlineError is the cause of a pass stopped by its deadline
// (limits.passTimeout in the bot config).
type DeadlineError struct {
	Limit time.Duration
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("the pass took longer than limits.passTimeout (%s) and was stopped", e.Limit)
}

// passDeadline is err of a pass whose context is ctx: when the pass's
// deadline stopped it, an error that says so first, whatever step noticed.
func passDeadline(ctx context.Context, err error) error {
	var dl *DeadlineError
	if !errors.As(context.Cause(ctx), &dl) {
		return err
	}
	if err == nil {
		return dl
	}
	if errors.As(err, new(*DeadlineError)) {
		return err
	}
	return fmt.Errorf("%w: %w", dl, err)
}

// OneLine renders err for a log line: one line, without the request and
// response dumps forge SDKs append to their errors ("unknown API error:
// 500\nRequest: '/api/v1/…' with 'GET' method and '<html>…' body"), at
// most maxErrorText bytes, and with the user information of any URL in
// it removed.
func OneLine(err error) string {
	if err == nil {
		return ""
	}
	var msg string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		// errors.Join puts each error on its own line: keep each.
		var parts []string
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = append(parts, OneLine(e))
			}
		}
		msg = strings.Join(parts, "; ")
	} else {
		msg = oneLine(err.Error())
	}
	msg = config.RedactURLs(msg)
	if len(msg) > maxErrorText {
		msg = strings.ToValidUTF8(msg[:maxErrorText], "") + "…"
	}
	return msg
}

// maxErrorText bounds an error in a log line: a server's error page can be
// megabytes.
const maxErrorText = 1000

// oneLine joins the lines of msg with "; ", up to the first line of an
// HTTP dump: the dump's body may run over many more lines.
func oneLine(msg string) string {
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	var parts []string
	for _, l := range strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(l)
		if dumpLine(l) {
			break
		}
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// dumpLine reports whether l starts the dump of an HTTP exchange that an
// SDK printed into its error.
func dumpLine(l string) bool {
	for _, p := range []string{"Request:", "Response:", "Request body:", "Response body:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
