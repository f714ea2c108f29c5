package gitwriter

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/ProtonMail/go-crypto/openpgp"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Options say which repository to keep a working copy of and how to write
// to it. The bot fills them from its config.
type Options struct {
	// URL of the remote as given: https://, http:// (local servers),
	// ssh:// or scp-like user@host:path. An http(s) URL may not carry
	// credentials: tokens come from Auth.TokenFile.
	URL string
	// Branch is the base branch: the working copy follows it, and push mode
	// pushes to it unless PushBranch is set.
	Branch string
	// PushBranch, when set, is where push mode pushes; it is created from
	// Branch when absent, and the working copy follows it once it exists.
	PushBranch string
	// WorkDir holds the working copies, one directory per repository.
	WorkDir string
	// Auth is how to authenticate to the remote; the zero value is
	// anonymous.
	Auth Auth
	// Author is the author and committer of every commit.
	Author Signature
	// SigningKeyFile is an armored OpenPGP private key; commits are signed
	// with it when set. SigningPassphraseFile holds its passphrase when the
	// key is encrypted.
	SigningKeyFile        string
	SigningPassphraseFile string
	// MessageTemplate is a text/template over MessageData; empty means
	// DefaultMessageTemplate. The bot trailer is appended to whatever it
	// renders.
	MessageTemplate string
	// Logger receives what the working copy does; nil discards.
	Logger *slog.Logger
	// Progress receives the remote's progress messages while cloning and
	// fetching (git's "Counting objects: 100% (5005/5005), done."); nil
	// discards them.
	Progress io.Writer
	// MaxObjectSize is the size of the largest object (file, mostly) a
	// clone or fetch takes: a larger one fails it with an
	// *ObjectTooLargeError as soon as its header arrives. go-git holds
	// each object of a pack it receives in memory whole, once, so this
	// bounds what a hostile commit can cost. 0 means
	// DefaultMaxObjectSize.
	MaxObjectSize int64
}

// DefaultMaxObjectSize is Options.MaxObjectSize when it is 0: the largest
// file GitHub accepts in a repository.
const DefaultMaxObjectSize = 100 << 20

func (o Options) maxObjectSize() int64 {
	if o.MaxObjectSize > 0 {
		return o.MaxObjectSize
	}
	return DefaultMaxObjectSize
}

// Auth is how to authenticate to the remote: a token (HTTPS basic auth,
// the token as password) or an SSH key verified against a known_hosts file.
type Auth struct {
	TokenFile string
	// Username is the basic-auth user sent with the token (default
	// DefaultTokenUser). GitLab wants "oauth2"; GitHub and Gitea take any.
	Username       string
	SSHKeyFile     string
	KnownHostsFile string
}

// DefaultTokenUser is the basic-auth user sent with a token unless
// Auth.Username says otherwise: what GitHub documents for app and action
// tokens, and a name Gitea ignores (it looks the token up by itself).
const DefaultTokenUser = "x-access-token"

// Signature is a name and email address.
type Signature struct {
	Name, Email string
}

// Repo is the working copy of one repository and what writes to it. A Repo
// is not safe for concurrent use.
type Repo struct {
	opts   Options
	dir    string
	log    *slog.Logger
	auth   transport.AuthMethod
	token  string
	signer *openpgp.Entity
	tmpl   *template.Template

	repo   *git.Repository // nil until Sync
	follow string          // remote branch the working copy follows
	head   plumbing.Hash   // tip of follow at the last Sync or push
	// skipped are the paths of head the last checkout left out.
	skipped []SkippedPath
	// found is the last commit hasCommit found, and in which repository.
	found struct {
		repo   *git.Repository
		commit plumbing.Hash
	}
}

// New checks opts and reads the token, key and template files. It does no
// network I/O; Sync does.
func New(opts Options) (*Repo, error) {
	if opts.URL == "" {
		return nil, errors.New("repository url is empty")
	}
	if opts.Branch == "" {
		return nil, fmt.Errorf("repository %s: branch is empty", opts.URL)
	}
	if opts.WorkDir == "" {
		return nil, fmt.Errorf("repository %s: workDir is empty", opts.URL)
	}
	if opts.Author.Name == "" || opts.Author.Email == "" {
		return nil, fmt.Errorf("repository %s: commit author needs a name and an email", opts.URL)
	}
	for _, b := range []string{opts.Branch, opts.PushBranch} {
		if b == "" {
			continue
		}
		if err := checkRefName("refs/heads/" + b); err != nil {
			return nil, fmt.Errorf("repository %s: branch %q: %w", opts.URL, b, err)
		}
	}
	ep, err := transport.NewEndpoint(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("repository url %q: %w", redactURL(opts.URL), err)
	}
	if ep.Password != "" || (ep.User != "" && (ep.Protocol == "http" || ep.Protocol == "https")) {
		// A token may pose as the user name too; either way it would land
		// in .git/config.
		return nil, fmt.Errorf("repository url %q carries credentials; put the token in auth.tokenFile", redactURL(opts.URL))
	}
	r := &Repo{opts: opts, log: opts.Logger, follow: opts.Branch}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.dir = opts.WorkDir + string(os.PathSeparator) + DirName(opts.URL, opts.Branch)

	switch a := opts.Auth; {
	case a.TokenFile != "" && (a.SSHKeyFile != "" || a.KnownHostsFile != ""):
		return nil, fmt.Errorf("repository %s: auth has both tokenFile and sshKeyFile/knownHostsFile; give one", opts.URL)
	case a.TokenFile != "":
		if ep.Protocol != "http" && ep.Protocol != "https" {
			return nil, fmt.Errorf("repository %s: auth.tokenFile needs an http(s) url", opts.URL)
		}
		b, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading auth.tokenFile: %w", err)
		}
		r.token = strings.TrimSpace(string(b))
		if r.token == "" {
			return nil, fmt.Errorf("auth.tokenFile %s is empty", a.TokenFile)
		}
		user := a.Username
		if user == "" {
			user = DefaultTokenUser
		}
		r.auth = &githttp.BasicAuth{Username: user, Password: r.token}
	case a.SSHKeyFile != "" || a.KnownHostsFile != "":
		if a.SSHKeyFile == "" || a.KnownHostsFile == "" {
			return nil, fmt.Errorf("repository %s: ssh auth needs both sshKeyFile and knownHostsFile", opts.URL)
		}
		if ep.Protocol != "ssh" {
			return nil, fmt.Errorf("repository %s: auth.sshKeyFile needs an ssh url", opts.URL)
		}
		r.auth, err = sshAuth(ep, a)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", opts.URL, err)
		}
	}
	if opts.SigningKeyFile != "" {
		r.signer, err = readSigningKey(opts.SigningKeyFile, opts.SigningPassphraseFile)
		if err != nil {
			return nil, err
		}
	}
	r.tmpl, err = parseMessageTemplate(opts.MessageTemplate)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func sshAuth(ep *transport.Endpoint, a Auth) (transport.AuthMethod, error) {
	if _, err := os.Stat(a.KnownHostsFile); err != nil {
		return nil, fmt.Errorf("auth.knownHostsFile: %w", err)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, "")
	if err != nil {
		return nil, fmt.Errorf("reading auth.sshKeyFile %s: %w", a.SSHKeyFile, err)
	}
	db, err := gitssh.NewKnownHostsDb(a.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("reading auth.knownHostsFile %s: %w", a.KnownHostsFile, err)
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	keys.HostKeyCallback = db.HostKeyCallback()
	// Offer only the algorithms of the keys known_hosts has for this
	// host, or a server with several host keys may show one we cannot check.
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(fmt.Sprintf("%s:%d", ep.Host, port))
	return keys, nil
}

// Dir returns the working copy's directory.
func (r *Repo) Dir() string { return r.dir }

// Head returns the commit the working copy is at ("" before Sync).
func (r *Repo) Head() string {
	if r.head.IsZero() {
		return ""
	}
	return r.head.String()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// DirName returns the name of the working copy of branch of url inside
// workDir: host and path for people ("github.com-acme-fleet"), then a hash
// of the whole url and the branch so that two repositories, or two branches
// of one, never share a directory.
func DirName(url, branch string) string {
	readable := url
	if ep, err := transport.NewEndpoint(url); err == nil {
		readable = ep.Host + "/" + ep.Path
	}
	readable = strings.TrimSuffix(strings.TrimSuffix(readable, "/"), ".git")
	readable = strings.Trim(unsafeName.ReplaceAllString(readable, "-"), "-.")
	if len(readable) > 80 {
		readable = readable[:80]
	}
	sum := sha256.Sum256([]byte(url + "\x00" + branch))
	return readable + "-" + hex.EncodeToString(sum[:])[:12]
}

// redactURL drops the user info of a URL, so a password in it is never
// echoed back.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.Contains(rest[:at], "/") {
			return u[:i+3] + "REDACTED@" + rest[at+1:]
		}
	}
	return u
}

// redacted is an error whose text has the token replaced.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }

// Is lets errors.Is see through to the sentinels (context.Canceled,
// ErrPushRejected, …). There is no Unwrap: it would hand out the text that
// still holds the token.
func (e *redacted) Is(target error) bool { return errors.Is(e.err, target) }

// As lets errors.As find the typed errors under it (*RefusedError, whose
// text is redacted where it is made).
func (e *redacted) As(target any) bool { return errors.As(e.err, target) }

// errorf wraps like fmt.Errorf and removes the token from the text, whatever
// go-git put there.
func (r *Repo) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if r.token == "" || !strings.Contains(err.Error(), r.token) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), r.token, "REDACTED"), err: err}
}
