package gitwriter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// The outcomes of a ref update that did not go through. pushOutcome decides
// which one a failure is, by reading where the remote branch is afterwards
// rather than by matching go-git's or the server's wording, so a library
// upgrade that rewords its errors cannot turn one into another.
var (
	// ErrPushRejected is returned (wrapped) when a push was rejected because
	// the remote branch moved on since the working copy saw it: re-plan on
	// the new tip and try again. Push does so up to MaxPushAttempts times and
	// then returns it.
	ErrPushRejected = errors.New("push rejected: the remote branch moved on")
	// ErrLeaseLost is returned (wrapped) by Publish and DeleteBranch when
	// the remote branch is no longer at the head the caller last saw:
	// someone else wrote to it in between, and nothing was overwritten.
	ErrLeaseLost = errors.New("the remote branch moved: lease lost")
	// ErrRefused matches (errors.Is) every *RefusedError.
	ErrRefused = errors.New("refused by the server")
)

// RefusedError is a ref update the server did not take while the branch
// stayed where the bot expected it: a pre-receive hook declined it, the
// branch is protected, the pack was refused. Retrying the same update would
// get the same answer, so nothing retries it.
type RefusedError struct {
	// Branch is the branch the update was for.
	Branch string
	// Message is what the server said while refusing (a hook's output,
	// "GitLab: You are not allowed to push code to protected branches"),
	// trimmed; empty when it said nothing.
	Message string
	// Err is the failure as go-git reported it.
	Err error
}

// Error names the branch and gives the server's own message.
func (e *RefusedError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s: the server refused the update of branch %s: %v", ErrRefused.Error(), e.Branch, e.Err)
	}
	return fmt.Sprintf("%s: the server refused the update of branch %s: %q: %v", ErrRefused.Error(), e.Branch, e.Message, e.Err)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Unwrap returns go-git's error.
func (e *RefusedError) Unwrap() error { return e.Err }

// update is one ref update: what the remote branch must be at for it to
// apply (the zero hash: absent; anyHead: whatever it is) and whether that
// is a lease the caller holds (Publish, DeleteBranch) or the tip the
// working copy built on (Push).
type update struct {
	branch string
	expect plumbing.Hash
	// anyHead: the update applies whatever the branch points at (an
	// unconditional delete).
	anyHead bool
	leased  bool
	// deleting: the update deletes the branch, so finding it gone
	// afterwards is what was wanted, whoever deleted it.
	deleting bool
}

// pushOutcome is the one place a failed push or delete is classified. err
// is what go-git returned, server what the server sent on its side band
// while answering. A branch that is no longer where u expected it moved:
// ErrLeaseLost for a lease, ErrPushRejected otherwise. A branch still there
// means the server did not take the update: a *RefusedError carrying its
// message. When the branch cannot be read back the error is returned as
// go-git gave it.
func (r *Repo) pushOutcome(ctx context.Context, err error, u update, server string) error {
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	if ctx.Err() != nil || transportFailed(err) {
		// No answer came: neither a race nor a refusal, and not retried
		// within this pass.
		return r.errorf("updating branch %s of %s: %w", u.branch, r.opts.URL, err)
	}
	refs, lerr := r.listRemote(ctx)
	if lerr != nil {
		return r.errorf("updating branch %s of %s: %w (and reading it back: %v)", u.branch, r.opts.URL, err, lerr)
	}
	now, exists := refs[u.branch] // the zero hash when absent
	if u.deleting && !exists {
		return nil
	}
	if !u.anyHead && now != u.expect {
		sentinel := ErrPushRejected
		if u.leased {
			sentinel = ErrLeaseLost
		}
		return r.errorf("updating branch %s of %s: %w: expected %s, found %s: %v", u.branch, r.opts.URL, sentinel, describeHead(u.expect), describeHead(now), err)
	}
	return &RefusedError{Branch: u.branch, Message: r.redact(serverMessage(server)), Err: r.errorf("updating branch %s of %s: %w", u.branch, r.opts.URL, err)}
}

// transportFailed reports whether err is the connection failing rather
// than the server answering. go-git's HTTP transport reports a request
// that got no response as a *plumbing.UnexpectedError (which does not
// unwrap); the others surface the network's own errors.
func transportFailed(err error) bool {
	var ne net.Error
	var ue *plumbing.UnexpectedError
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func describeHead(h plumbing.Hash) string {
	if h.IsZero() {
		return "no branch"
	}
	return h.String()
}

// maxServerMessage bounds what is kept of a server's side-band messages.
const maxServerMessage = 4 << 10

// sideband collects the messages a server sends while answering a push,
// up to maxServerMessage bytes.
type sideband struct{ b bytes.Buffer }

func (s *sideband) Write(p []byte) (int, error) {
	if room := maxServerMessage - s.b.Len(); room > 0 {
		s.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// serverMessage is the text of side-band messages: progress lines
// (rewritten in place with \r) dropped, one line per message.
func serverMessage(raw string) string {
	var lines []string
	for line := range strings.SplitSeq(strings.ReplaceAll(raw, "\r\n", "\n"), "\n") {
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			continue // progress, redrawn in place
		}
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// redact removes the token from s.
func (r *Repo) redact(s string) string {
	if r.token == "" {
		return s
	}
	return strings.ReplaceAll(s, r.token, "REDACTED")
}
