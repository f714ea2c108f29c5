package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/time/rate"
)

// Defaults of the options. They are the contract in DESIGN.md.
const (
	// DefaultMaxConcurrency is the number of requests in flight to one host
	// when its Host entry does not say otherwise.
	DefaultMaxConcurrency = 4
	// DefaultAttempts is how often one request is tried before giving up.
	DefaultAttempts = 4
	// DefaultBackoff is the wait before the first retry; it doubles for each
	// further retry (1s, 2s, 4s).
	DefaultBackoff = time.Second
	// MaxRetryAfter is the longest Retry-After the client waits out. A
	// registry that asks for a longer wait fails the request at once.
	MaxRetryAfter = 30 * time.Second
	// DefaultTimeout bounds one attempt of one request, from sending it to
	// the end of reading its response body.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxPages bounds the pages of one repository's tag listing. A
	// registry that keeps linking to new pages is not followed forever;
	// at the 1000 tags a page holds, this is a million tags.
	DefaultMaxPages = 1000
	// DefaultMaxTags bounds the tags of one repository. Few repositories
	// hold more than a few thousand; a hundred thousand is a registry
	// gone wrong, or one imagebump should not try to sort every pass.
	DefaultMaxTags = 100_000
	// DefaultListTimeout bounds one repository's whole tag listing, all
	// pages and retries included.
	DefaultListTimeout = 2 * time.Minute
	// pageSize is the n= of tag listings; ECR refuses more than 1000.
	pageSize = 1000
	// maxPageBytes caps the body of one page of a tag listing: 1000
	// tags of at most 128 bytes fit many times over.
	maxPageBytes = 64 << 20
)

// Host holds the settings for one registry host, mirroring an entry of the
// bot config's registries.hosts. The zero value of every field but Host is
// a usable default.
type Host struct {
	// Host is the registry as it appears in image references,
	// "registry.internal:5000" or "ghcr.io". "docker.io" means
	// "index.docker.io".
	Host string
	// Insecure allows plain HTTP and HTTPS without certificate
	// verification, as docker's insecure-registries does: HTTPS is tried
	// first, then HTTP (so a plain-HTTP host costs two pings per pass).
	// Loopback hosts need no Insecure: they are plain HTTP already.
	Insecure bool
	// CAFile is a PEM file of certificates trusted for this host in
	// addition to the system roots.
	CAFile string
	// MaxConcurrency bounds the requests in flight to this host;
	// 0 means DefaultMaxConcurrency.
	MaxConcurrency int
	// RequestsPerSecond limits the request rate to this host, allowing
	// bursts of one second's worth; 0 means unlimited. Every attempt
	// counts, retries included.
	RequestsPerSecond float64

	// Username for basic authentication or token exchange. A value of the
	// form ${NAME} is read from the environment variable NAME.
	Username string
	// Password goes with Username. A value of the form ${NAME} is read from
	// the environment variable NAME; prefer that or PasswordFile to a
	// literal.
	Password string
	// PasswordFile is a file holding the password (surrounding whitespace
	// is trimmed). It is read when the Client is built.
	PasswordFile string
	// Token is a registry bearer token sent as is (docker config's
	// "registrytoken"); ${NAME} reads it from the environment. Registries
	// that take a token as a password (GHCR, GitLab) want Username and
	// Password instead.
	Token string
	// TokenFile is a file holding Token.
	TokenFile string

	// Provider names a cloud whose workload identity serves this host
	// when neither the fields above nor the docker config have
	// credentials for it: ProviderAWS, ProviderGCP, ProviderAzure or
	// ProviderAuto (by the host's name). Empty means none.
	Provider string
}

// Option configures a Client built by New.
type Option func(*options) error

type options struct {
	dockerConfig string
	keychain     authn.Keychain
	hosts        []Host
	timeout      time.Duration
	attempts     int
	backoff      time.Duration
	logger       *slog.Logger
	userAgent    string
	sleep        func(ctx context.Context, d time.Duration) error
	maxPages     int
	maxTags      int
	listTimeout  time.Duration
	maxPageBytes int64
	// azure configures azidentity's requests (tests only: a transport
	// that trusts a TLS stand-in, and no instance discovery).
	azure            azcore.ClientOptions
	azureNoDiscovery bool
}

// WithDockerConfig reads credentials from the docker config file at path,
// including its credential helpers (credsStore, credHelpers). A Kubernetes
// secret of type kubernetes.io/dockerconfigjson mounted as a file has the
// same format: pass the path of its .dockerconfigjson file. A path naming a
// directory means config.json inside it. The file must exist when the
// Client is built and is re-read whenever a repository is first used in a
// Pass, so rotated secrets are picked up.
//
// The default is $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else
// ~/.docker/config.json; a missing default file means anonymous access.
func WithDockerConfig(path string) Option {
	return func(o *options) error {
		o.dockerConfig = path
		return nil
	}
}

// WithKeychain adds a keychain consulted after the per-host credentials of
// WithHosts and before the docker config. The default is none.
func WithKeychain(kc authn.Keychain) Option {
	return func(o *options) error {
		o.keychain = kc
		return nil
	}
}

// WithHosts sets per-host settings. The default for every host is
// DefaultMaxConcurrency requests in flight, no rate limit, the system
// roots, HTTPS (plain HTTP for loopback hosts) and credentials from the
// docker config only. Naming a host twice is an error.
func WithHosts(hosts ...Host) Option {
	return func(o *options) error {
		o.hosts = append(o.hosts, hosts...)
		return nil
	}
}

// WithTimeout bounds each attempt of each request, response body included.
// An attempt that runs out of time is retried like a 5xx. The default is
// DefaultTimeout; 0 means no limit but the caller's context.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("negative timeout %s", d)
		}
		o.timeout = d
		return nil
	}
}

// WithRetryBackoff sets the wait before the first retry of a request that
// failed with 408, 429, 500, 502, 503, 504 or a timeout; each further
// retry waits twice as long, and a Retry-After header replaces the
// computed wait. The default is DefaultBackoff. Tests pass a millisecond.
func WithRetryBackoff(base time.Duration) Option {
	return func(o *options) error {
		if base < 0 {
			return fmt.Errorf("negative backoff %s", base)
		}
		o.backoff = base
		return nil
	}
}

// WithAttempts sets how often one request is tried. The default is
// DefaultAttempts; 1 disables retries.
func WithAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("attempts must be at least 1, got %d", n)
		}
		o.attempts = n
		return nil
	}
}

// WithMaxPages bounds the pages of one repository's tag listing; a
// listing with more fails that repository. The default is
// DefaultMaxPages.
func WithMaxPages(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max pages must be at least 1, got %d", n)
		}
		o.maxPages = n
		return nil
	}
}

// WithMaxTags bounds the tags of one repository; a listing with more fails
// that repository. The default is DefaultMaxTags.
func WithMaxTags(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max tags must be at least 1, got %d", n)
		}
		o.maxTags = n
		return nil
	}
}

// WithListTimeout bounds the time one repository's tag listing may take,
// every page and retry included; a slower listing fails that repository.
// The default is DefaultListTimeout; 0 means no limit but the caller's
// context.
func WithListTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("negative list timeout %s", d)
		}
		o.listTimeout = d
		return nil
	}
}

// WithLogger sets where retries and refused requests are logged. The
// default, like a nil logger, discards. Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// WithUserAgent sets the User-Agent prefix of every request. The default
// is "imagebump".
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}

// Client talks to registries. It is safe for concurrent use and meant to
// live as long as the process: it holds the per-host limits, the request
// counts, and caches of what never changes for a digest (platforms,
// created time). Tags and digests are cached per Pass.
type Client struct {
	log       *slog.Logger
	keychain  authn.Keychain
	secrets   *secrets
	timeout   time.Duration
	attempts  int
	backoff   time.Duration
	userAgent string
	sleep     func(ctx context.Context, d time.Duration) error

	maxPages     int
	maxTags      int
	listTimeout  time.Duration
	maxPageBytes int64

	// dockerConfig says where credentials were looked for, for errors
	// about requests sent without any.
	dockerConfig *dockerConfigKeychain

	defaultTransport http.RoundTripper
	configured       map[string]*hostState

	mu      sync.Mutex
	dynamic map[string]*hostState

	counts counter
	// rt is the client-wide transport under go-containerregistry's
	// auth transports: retries, then scheme policy, host limits,
	// counting, and the network.
	rt http.RoundTripper

	platforms memo[[]Platform]
	created   memo[time.Time]
}

// hostState is what the client keeps per host.
type hostState struct {
	name     string
	insecure bool
	loopback bool
	sem      chan struct{}
	limiter  *rate.Limiter // nil: unlimited
	rt       http.RoundTripper
}

// New builds a Client. It reads the CA, password and token files and the
// environment variables the hosts name, so a mistake there fails here.
func New(opts ...Option) (*Client, error) {
	o := options{
		timeout:      DefaultTimeout,
		attempts:     DefaultAttempts,
		backoff:      DefaultBackoff,
		userAgent:    "imagebump",
		maxPages:     DefaultMaxPages,
		maxTags:      DefaultMaxTags,
		listTimeout:  DefaultListTimeout,
		maxPageBytes: maxPageBytes,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		log:        log,
		secrets:    &secrets{},
		timeout:    o.timeout,
		attempts:   o.attempts,
		backoff:    o.backoff,
		userAgent:  o.userAgent,
		sleep:      o.sleep,
		configured: map[string]*hostState{},
		dynamic:    map[string]*hostState{},

		maxPages:     o.maxPages,
		maxTags:      o.maxTags,
		listTimeout:  o.listTimeout,
		maxPageBytes: o.maxPageBytes,
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("remote.DefaultTransport is not an *http.Transport")
	}
	c.defaultTransport = base.Clone()

	hostKeys := hostKeychain{}
	c.rt = &retryTransport{c: c}
	cloud := cloudKeychain{providers: map[string]string{}, azure: &azureIdentity{
		rt:                       c.rt,
		insecure:                 c.insecure,
		client:                   o.azure,
		disableInstanceDiscovery: o.azureNoDiscovery,
	}}
	for _, h := range o.hosts {
		reg, err := name.NewRegistry(h.Host)
		if err != nil || h.Host == "" {
			return nil, fmt.Errorf("registry host %q: not a registry host name", h.Host)
		}
		key := reg.RegistryStr()
		if _, dup := c.configured[key]; dup {
			return nil, fmt.Errorf("registry host %q: configured twice", h.Host)
		}
		hs, err := c.newHostState(key, h, base)
		if err != nil {
			return nil, fmt.Errorf("registry host %q: %w", h.Host, err)
		}
		c.configured[key] = hs
		auth, err := hostAuth(h, c.secrets)
		if err != nil {
			return nil, fmt.Errorf("registry host %q: %w", h.Host, err)
		}
		if auth != nil {
			hostKeys[key] = sourcedAuth{Authenticator: auth, src: "the registries.hosts entry for " + key}
		}
		p, err := resolveProvider(key, h.Provider)
		if err != nil {
			return nil, fmt.Errorf("registry host %q: %w", h.Host, err)
		}
		if p != "" {
			cloud.providers[key] = p
		}
	}

	dc, err := newDockerConfigKeychain(o.dockerConfig)
	if err != nil {
		return nil, err
	}
	c.dockerConfig = dc
	chain := []authn.Keychain{hostKeys}
	if o.keychain != nil {
		chain = append(chain, o.keychain)
	}
	chain = append(chain, dc, cloud)
	c.keychain = recordingKeychain{inner: authn.NewMultiKeychain(chain...), secrets: c.secrets}
	return c, nil
}

func (c *Client) newHostState(key string, h Host, base *http.Transport) (*hostState, error) {
	if h.MaxConcurrency < 0 {
		return nil, fmt.Errorf("maxConcurrency must not be negative, got %d", h.MaxConcurrency)
	}
	if h.RequestsPerSecond < 0 {
		return nil, fmt.Errorf("requestsPerSecond must not be negative, got %g", h.RequestsPerSecond)
	}
	n := h.MaxConcurrency
	if n == 0 {
		n = DefaultMaxConcurrency
	}
	hs := &hostState{
		name:     key,
		insecure: h.Insecure,
		loopback: isLoopback(key),
		sem:      make(chan struct{}, n),
		rt:       c.defaultTransport,
	}
	if h.RequestsPerSecond > 0 {
		burst := max(1, int(h.RequestsPerSecond))
		hs.limiter = rate.NewLimiter(rate.Limit(h.RequestsPerSecond), burst)
	}
	if h.CAFile != "" || h.Insecure {
		t := base.Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if h.Insecure {
			t.TLSClientConfig.InsecureSkipVerify = true
		}
		if h.CAFile != "" {
			pem, err := os.ReadFile(h.CAFile)
			if err != nil {
				return nil, fmt.Errorf("reading caFile: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("caFile %s holds no PEM certificate", h.CAFile)
			}
			t.TLSClientConfig.RootCAs = pool
		}
		hs.rt = t
	}
	return hs, nil
}

// host returns the state of the host a request goes to; hosts without a
// Host entry (token servers, blob storage, unconfigured registries) get
// the defaults.
func (c *Client) host(key string) *hostState {
	if hs, ok := c.configured[key]; ok {
		return hs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hs, ok := c.dynamic[key]; ok {
		return hs
	}
	hs := &hostState{
		name:     key,
		loopback: isLoopback(key),
		sem:      make(chan struct{}, DefaultMaxConcurrency),
		rt:       c.defaultTransport,
	}
	c.dynamic[key] = hs
	return hs
}

// isLoopback reports whether a host[:port] is localhost, 127.0.0.0/8 or ::1.
func isLoopback(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// insecure reports whether references to a registry are parsed with
// name.Insecure, which makes go-containerregistry try plain HTTP. Loopback
// hosts always are: go-containerregistry itself picks HTTP only for some
// spellings of them (127.0.0.1, localhost:PORT), not 127.0.0.2 or a bare
// localhost.
func (c *Client) insecure(registry string) bool {
	if isLoopback(registry) {
		return true
	}
	hs, ok := c.configured[registry]
	return ok && hs.insecure
}

// readSecret resolves a secret given literally, as ${NAME}, or in a file.
func readSecret(what, value, file string, s *secrets) (string, error) {
	if value != "" && file != "" {
		return "", fmt.Errorf("both %s and %sFile are set", what, what)
	}
	var v string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The path is not secret; the content never appears.
			return "", fmt.Errorf("reading %sFile: %w", what, err)
		}
		v = strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%sFile %s is empty", what, file)
		}
	case isEnvRef(value):
		env := value[2 : len(value)-1]
		var ok bool
		v, ok = os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: environment variable %s is not set", what, env)
		}
	default:
		v = value
	}
	s.add(v)
	return v, nil
}

func isEnvRef(v string) bool {
	return len(v) > 3 && strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}")
}

// hostAuth builds the authenticator for a Host's own credentials, or nil.
func hostAuth(h Host, s *secrets) (authn.Authenticator, error) {
	user := h.Username
	if isEnvRef(user) {
		env := user[2 : len(user)-1]
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return nil, fmt.Errorf("username: environment variable %s is not set", env)
		}
		user = v
	}
	pass, err := readSecret("password", h.Password, h.PasswordFile, s)
	if err != nil {
		return nil, err
	}
	tok, err := readSecret("token", h.Token, h.TokenFile, s)
	if err != nil {
		return nil, err
	}
	switch {
	case tok != "" && (user != "" || pass != ""):
		return nil, errors.New("set either a token or a username and password, not both")
	case tok != "":
		return authn.FromConfig(authn.AuthConfig{RegistryToken: tok}), nil
	case user != "" && pass == "":
		return nil, errors.New("username without password")
	case user == "" && pass != "":
		return nil, errors.New("password without username")
	case user != "":
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
	}
	return nil, nil
}

// noCredentials says where credentials for host were looked for and not
// found.
func (c *Client) noCredentials(host string) string {
	p := c.dockerConfig.path
	if p == "" {
		return "no docker config and no registries.hosts credentials for " + host
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Sprintf("no docker config at %s and no registries.hosts credentials for %s", p, host)
	}
	return fmt.Sprintf("none for %s in the docker config %s or registries.hosts", host, p)
}

// byteSize formats a size limit: "64 MiB", "1000 bytes".
func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// drain reads a little of a body so the connection can be reused, then
// closes it.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	_ = body.Close()
}
