package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ConnectError is returned when a host could not be connected to at all:
// nobody listens, the name does not resolve, no route.
type ConnectError struct {
	// Host is the host[:port] that could not be reached: the registry,
	// or its token server.
	Host string
	// Err is the network error.
	Err error
}

// Error says which host could not be reached and why, in the words of the
// network stack ("connection refused", "no such host").
func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %s: %s", e.Host, connectReason(e.Err))
}

// Unwrap returns the network error.
func (e *ConnectError) Unwrap() error { return e.Err }

// AccessError is returned when a registry or its token server answers
// 401 or 403. It says whether credentials were sent and where they came
// from, never what they were.
type AccessError struct {
	// Host is the registry.
	Host string
	// Repository is the repository path on Host, "acme/web".
	Repository string
	// Status is the HTTP status, 401 or 403.
	Status int
	// Source says where the credentials sent came from; empty when none
	// were sent.
	Source string
	// NoneFound says where credentials were looked for when none were
	// sent.
	NoneFound string
	// Err is the registry's answer.
	Err error
}

// Error says who refused, whether credentials were sent and from where,
// then what the registry said.
func (e *AccessError) Error() string {
	head := fmt.Sprintf("access to %s denied by %s (%d %s)", e.Repository, e.Host, e.Status, http.StatusText(e.Status))
	if e.Source == "" {
		return fmt.Sprintf("%s; no credentials were sent: %s: %v", head, e.NoneFound, e.Err)
	}
	return fmt.Sprintf("%s; credentials were sent from %s: %v", head, e.Source, e.Err)
}

// Unwrap returns the registry's answer.
func (e *AccessError) Unwrap() error { return e.Err }

// NotFoundError is returned when a registry does not know a repository
// (NAME_UNKNOWN).
type NotFoundError struct {
	// Host is the registry.
	Host string
	// Repository is the repository path on Host.
	Repository string
	// Err is the registry's answer.
	Err error
}

// Error names the repository and the registry.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("repository %s not found on %s", e.Repository, e.Host)
}

// Unwrap returns the registry's answer.
func (e *NotFoundError) Unwrap() error { return e.Err }

// ListLimitError is returned for a tag listing that exceeds one of the
// client's bounds (WithMaxPages, WithMaxTags, WithListTimeout, and the cap
// on the size of one page). The repository fails; no partial list is
// returned.
type ListLimitError struct {
	// Limit is the bound exceeded, in words: "1000 pages", "100000 tags",
	// "2m0s", "64 MiB".
	Limit string
	kind  limitKind
}

type limitKind int

const (
	limitPages limitKind = iota
	limitTags
	limitTime
	limitPageBytes
)

// Error says which bound was exceeded.
func (e *ListLimitError) Error() string {
	switch e.kind {
	case limitPages:
		return fmt.Sprintf("more than %s, the most imagebump follows for one repository; refusing a partial list", e.Limit)
	case limitTags:
		return fmt.Sprintf("more than %s, the most imagebump accepts for one repository; refusing a partial list", e.Limit)
	case limitTime:
		return fmt.Sprintf("not complete within %s, the time imagebump allows one repository's tag list; refusing a partial list", e.Limit)
	default:
		return fmt.Sprintf("a page of the tag list is larger than %s, the most imagebump reads", e.Limit)
	}
}

// HelperError is returned when a docker credential helper fails. It
// never holds the helper's output, which may be a secret.
type HelperError struct {
	// Helper is the program, "docker-credential-ecr-login".
	Helper string
	// Host is the registry credentials were asked for.
	Host string
	// Err is how the program ended (*exec.ExitError, exec.ErrNotFound),
	// or nil when it succeeded but printed no credentials.
	Err error
}

// Error names the helper, the host and the exit status.
func (e *HelperError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("credential helper %s failed for %s: its output is not credentials", e.Helper, e.Host)
	}
	return fmt.Sprintf("credential helper %s failed for %s: %v", e.Helper, e.Host, e.Err)
}

// Unwrap returns how the program ended.
func (e *HelperError) Unwrap() error { return e.Err }

// connectReason is the innermost words of a dial error: "connection
// refused", "no such host".
func connectReason(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// explain turns an error met working on repository r into one that says
// what happened in the user's terms: a host that cannot be reached, a
// repository the registry does not know, access refused (with where the
// credentials came from). Other errors are returned as they are.
func (p *Pass) explain(err error, r name.Repository) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			if d.Code == transport.NameUnknownErrorCode {
				return &NotFoundError{Host: r.RegistryStr(), Repository: r.RepositoryStr(), Err: err}
			}
		}
		if te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden {
			ae := &AccessError{Host: r.RegistryStr(), Repository: r.RepositoryStr(), Status: te.StatusCode, Err: te}
			if a, ok := p.auths.peek(r.Name()); ok && a.source != "" {
				ae.Source = a.source
			} else {
				ae.NoneFound = p.c.noCredentials(r.RegistryStr())
			}
			return ae
		}
		return dropLoopbackHTTPS(err)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		host := r.RegistryStr()
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
				host = u.Host
			}
		}
		return &ConnectError{Host: host, Err: op}
	}
	return dropLoopbackHTTPS(err)
}

// dropLoopbackHTTPS removes from a failed ping's message the half about
// HTTPS to a loopback host. go-containerregistry pings both schemes of an
// insecure registry, HTTPS first, and joins both errors with "; "; send
// refuses the HTTPS one, which says nothing about what went wrong.
func dropLoopbackHTTPS(err error) error {
	var se *SchemeError
	var ue *url.Error
	if !errors.As(err, &se) || se.Scheme != "https" || !errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	trimmed := strings.Replace(msg, ue.Error()+"; ", "", 1)
	if trimmed == msg || trimmed == "" {
		return err
	}
	return &messageError{msg: trimmed, err: err}
}

// failure is what every exported method returns for an error: known
// secrets redacted, and every character a terminal would act on or not
// show (controls, escapes, zero-width and bidirectional marks, invalid
// UTF-8) escaped, since much of the text is a registry's.
func (c *Client) failure(err error) error {
	if err == nil {
		return nil
	}
	err = c.secrets.redact(err)
	msg := strings.TrimSpace(err.Error())
	if clean := escape(msg); clean != err.Error() {
		return &messageError{msg: clean, err: err}
	}
	return err
}

// escape writes every rune of s that is not printable, and every byte
// that is not UTF-8, as a Go escape (\x1b, \u200b).
func escape(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || !unicode.IsPrint(r) })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for s = s[i:]; s != ""; {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case unicode.IsPrint(r):
			b.WriteString(s[:n])
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
		s = s[n:]
	}
	return b.String()
}
