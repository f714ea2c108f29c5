package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// hostKeychain serves the credentials of Host entries, keyed by registry.
type hostKeychain map[string]authn.Authenticator

// sourcer is an authenticator that knows where its credentials came from,
// in words for an error message: "the docker config /x/config.json entry
// for ghcr.io".
type sourcer interface {
	source() string
}

// sourcedAuth labels an authenticator with where it came from.
type sourcedAuth struct {
	authn.Authenticator
	src string
}

func (a sourcedAuth) source() string { return a.src }

func (a sourcedAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	return authn.Authorization(ctx, a.Authenticator)
}

func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[r.RegistryStr()]; ok {
		return a, nil
	}
	return authn.Anonymous, nil
}

// dockerConfigKeychain reads a docker config.json (or a Kubernetes
// .dockerconfigjson, the same format) on every Resolve. go-containerregistry's
// DefaultKeychain cannot be pointed at a file, and it prefers
// ~/.docker/config.json over $DOCKER_CONFIG, the reverse of docker.
type dockerConfigKeychain struct {
	path     string
	explicit bool
}

func newDockerConfigKeychain(path string) (*dockerConfigKeychain, error) {
	if path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("docker config: %w", err)
		}
		if fi.IsDir() {
			path = filepath.Join(path, "config.json")
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("docker config: %w", err)
			}
		}
		return &dockerConfigKeychain{path: path, explicit: true}, nil
	}
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return &dockerConfigKeychain{path: filepath.Join(dir, "config.json")}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		// No home, no default config: anonymous unless hosts say otherwise.
		return &dockerConfigKeychain{}, nil
	}
	return &dockerConfigKeychain{path: filepath.Join(home, ".docker", "config.json")}, nil
}

func (k *dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.path == "" {
		return authn.Anonymous, nil
	}
	f, err := os.Open(k.path)
	if errors.Is(err, fs.ErrNotExist) && !k.explicit {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		// docker/cli's parse errors name neither values nor keys. %v: the
		// JSON error inside is not the registry's malformed response.
		return nil, fmt.Errorf("docker config %s: %v", k.path, err)
	}
	// The lookup order of go-containerregistry's DefaultKeychain: the
	// repository, then the registry, with Docker Hub's historical key.
	var empty types.AuthConfig
	for _, key := range []string{r.String(), r.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		var (
			cfg types.AuthConfig
			src string
			err error
		)
		if helper := credentialHelper(cf, key); helper != "" {
			src = fmt.Sprintf("credential helper %s (docker config %s)", helper, k.path)
			cfg, err = helperGet(helper, key, r.RegistryStr())
			if err != nil {
				return nil, fmt.Errorf("docker config %s: %w", k.path, err)
			}
		} else {
			src = fmt.Sprintf("the docker config %s entry for %s", k.path, key)
			cfg, err = cf.GetAuthConfig(key)
			if err != nil {
				// Only credential stores fail here, and their errors
				// may carry what they printed: never show it.
				return nil, fmt.Errorf("docker config %s: the credential store failed for %s", k.path, r.RegistryStr())
			}
		}
		cfg.ServerAddress = ""
		if cfg == empty {
			continue
		}
		return sourcedAuth{src: src, Authenticator: authn.FromConfig(authn.AuthConfig{
			Username:      cfg.Username,
			Password:      cfg.Password,
			Auth:          cfg.Auth,
			IdentityToken: cfg.IdentityToken,
			RegistryToken: cfg.RegistryToken,
		})}, nil
	}
	return authn.Anonymous, nil
}

// credentialHelper returns the program docker would ask for the
// credentials of key, "docker-credential-NAME", or "" for the config's
// own auths. DOCKER_AUTH_CONFIG takes precedence over helpers in docker;
// then docker/cli's own lookup is used, with its errors hidden.
func credentialHelper(cf *configfile.ConfigFile, key string) string {
	if os.Getenv("DOCKER_AUTH_CONFIG") != "" {
		return ""
	}
	helper, ok := cf.CredentialHelpers[key]
	if !ok {
		helper = cf.CredentialsStore
	}
	if helper == "" {
		return ""
	}
	return "docker-credential-" + helper
}

// helperGet asks a credential helper for key's credentials as docker/cli
// does, but its errors never hold what the helper printed (the client
// library copies that in, and it can be the secret): only how the program
// ended.
func helperGet(helper, key, host string) (types.AuthConfig, error) {
	var runErr error
	prog := func(args ...string) client.Program {
		return &helperProgram{cmd: exec.Command(helper, args...), err: &runErr}
	}
	creds, err := client.Get(prog, key)
	switch {
	case err == nil:
	case credentials.IsErrCredentialsNotFound(err):
		return types.AuthConfig{}, nil
	default:
		return types.AuthConfig{}, &HelperError{Helper: helper, Host: host, Err: runErr}
	}
	// docker/cli's mapping: a "<token>" user means an identity token.
	if creds.Username == "<token>" {
		return types.AuthConfig{IdentityToken: creds.Secret}, nil
	}
	return types.AuthConfig{Username: creds.Username, Password: creds.Secret}, nil
}

// helperProgram runs a credential helper with its stderr discarded
// (client.NewShellProgramFunc passes it to ours, where a failing helper
// may print the secret into the bot's logs) and keeps how it ended, which
// client.Get only formats into a string together with the output.
type helperProgram struct {
	cmd *exec.Cmd
	err *error
}

func (p *helperProgram) Input(in io.Reader) { p.cmd.Stdin = in }

func (p *helperProgram) Output() ([]byte, error) {
	p.cmd.Stderr = io.Discard
	out, err := p.cmd.Output()
	*p.err = err
	return out, err
}

// recordingKeychain remembers every secret it hands out so errors can be
// redacted, whichever keychain the secret came from.
type recordingKeychain struct {
	inner   authn.Keychain
	secrets *secrets
}

func (k recordingKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k recordingKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	a, err := authn.Resolve(ctx, k.inner, r)
	if err != nil || a == authn.Anonymous {
		return a, err
	}
	src := "a keychain given to the client"
	if s, ok := a.(sourcer); ok {
		src = s.source()
	}
	return recordingAuth{inner: a, secrets: k.secrets, src: src}, nil
}

type recordingAuth struct {
	inner   authn.Authenticator
	secrets *secrets
	src     string
}

func (a recordingAuth) source() string { return a.src }

func (a recordingAuth) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

func (a recordingAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	cfg, err := authn.Authorization(ctx, a.inner)
	if cfg != nil {
		a.secrets.add(cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken)
		if cfg.Password != "" {
			a.secrets.add(base64.StdEncoding.EncodeToString([]byte(cfg.Username + ":" + cfg.Password)))
		}
	}
	return cfg, err
}

// secrets is the set of credential values that must never appear in an
// error the package returns.
type secrets struct {
	mu   sync.Mutex
	vals map[string]bool
}

func (s *secrets) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		// Very short values would redact ordinary words; they are no
		// secret worth the name anyway.
		if len(v) < 4 {
			continue
		}
		if s.vals == nil {
			s.vals = map[string]bool{}
		}
		s.vals[v] = true
	}
}

// redact returns err, or an error with the same chain whose message has
// every known secret replaced by "REDACTED".
func (s *secrets) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	s.mu.Lock()
	defer s.mu.Unlock()
	red := msg
	for v := range s.vals {
		red = strings.ReplaceAll(red, v, "REDACTED")
	}
	if red == msg {
		return err
	}
	return &messageError{msg: red, err: err}
}

// messageError rewords an error (redacted, escaped, trimmed) and keeps
// its chain for errors.Is and errors.As.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }
