package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// hostKeychain serves the credentials of Host entries, keyed by registry.
type hostKeychain map[string]authn.Authenticator

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
		cfg, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("docker config %s: credentials for %s: %w", k.path, r.RegistryStr(), err)
		}
		cfg.ServerAddress = ""
		if cfg == empty {
			continue
		}
		return authn.FromConfig(authn.AuthConfig{
			Username:      cfg.Username,
			Password:      cfg.Password,
			Auth:          cfg.Auth,
			IdentityToken: cfg.IdentityToken,
			RegistryToken: cfg.RegistryToken,
		}), nil
	}
	return authn.Anonymous, nil
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
	return recordingAuth{inner: a, secrets: k.secrets}, nil
}

type recordingAuth struct {
	inner   authn.Authenticator
	secrets *secrets
}

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
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
