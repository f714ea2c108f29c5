package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinInterval is the shortest time between two passes a schedule may ask
// for: a shorter one only hammers registries and forges.
const MinInterval = time.Minute

// checkSchedule parses a cron spec and refuses one that never fires again
// (0 0 30 2 *) or fires more often than MinInterval (@every 1ms), either
// of which would make the scheduler run passes back to back.
func checkSchedule(spec string, now time.Time) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if d, ok := s.(cron.ConstantDelaySchedule); ok && d.Delay < MinInterval {
		return nil, fmt.Errorf("runs every %s; the shortest interval is %s", d.Delay, MinInterval)
	}
	// Look at a few activations: a five-field spec fires at most once a
	// minute, but a spec may name a date that never comes.
	t := s.Next(now)
	if t.IsZero() {
		return nil, errors.New("names no time that will come (robfig/cron looks five years ahead)")
	}
	for range 3 {
		n := s.Next(t)
		if n.IsZero() {
			break
		}
		if n.Sub(t) < MinInterval {
			return nil, fmt.Errorf("runs every %s; the shortest interval is %s", n.Sub(t), MinInterval)
		}
		t = n
	}
	return s, nil
}

// shortestInterval is the shortest time between the next few activations
// of s after now, or 0 when it cannot tell.
func shortestInterval(s cron.Schedule, now time.Time) time.Duration {
	var shortest time.Duration
	t := s.Next(now)
	for range 8 {
		if t.IsZero() {
			break
		}
		n := s.Next(t)
		if n.IsZero() {
			break
		}
		if d := n.Sub(t); shortest == 0 || d < shortest {
			shortest = d
		}
		t = n
	}
	return shortest
}

// userInfo says what a URL carries before its host: "" when nothing, else
// a description for a message. ssh URLs name the account to log in as
// (ssh://git@host/…, git@host:…), which is customary and no secret; a
// password there, and user information of any kind in an http(s) URL
// (https://TOKEN@host/… authenticates with the token as user name), is.
func userInfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "" // scp-like git@host:path: a login name, nothing else fits
	}
	if u.User == nil {
		return ""
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		return "a password"
	}
	if u.Scheme == "ssh" {
		return ""
	}
	return "user information"
}

// RedactURL returns raw with user information that can carry a secret
// replaced by REDACTED, for showing it in logs, metrics labels and errors.
// The config refuses such URLs; this is the second line of defence where
// URLs are rendered.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return RedactURLs(raw)
	}
	if userInfo(raw) == "" {
		return raw
	}
	u.User = url.User("REDACTED")
	return u.String()
}

// urlUser matches the user information of a URL inside a text: the part
// between "scheme://" and "@host".
var urlUser = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@`)

// RedactURLs returns text, an error message for instance, with the user
// information of every http(s) URL in it and every password in an ssh
// URL replaced by REDACTED.
func RedactURLs(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return urlUser.ReplaceAllStringFunc(text, func(m string) string {
		scheme, _, _ := strings.Cut(m, "://")
		user := strings.TrimSuffix(m[len(scheme)+3:], "@")
		if strings.EqualFold(scheme, "ssh") && !strings.Contains(user, ":") {
			return m
		}
		return scheme + "://REDACTED@"
	})
}

// checkFile reports why the file at path cannot serve as a credential or
// key file, or "" when it can be read. It is read when used, so a rotated
// secret is picked up; this only finds a missing mount before a pass.
func checkFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Sprintf("cannot read %s: %v", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("cannot read %s: %v", path, err)
	}
	if fi.IsDir() {
		return fmt.Sprintf("%s is a directory, not a file", path)
	}
	return ""
}

// checkFiles reports every credential, key and CA file of b that cannot be
// read.
func checkFiles(b *Bot, registriesOnly bool, bad func(path, format string, args ...any)) {
	check := func(field, path string) {
		if path == "" {
			return
		}
		if why := checkFile(path); why != "" {
			bad(field, "%s", why)
		}
	}
	if !registriesOnly {
		for i, r := range b.Repositories {
			at := fmt.Sprintf("repositories[%d].auth.", i)
			check(at+"tokenFile", r.Auth.TokenFile)
			check(at+"sshKeyFile", r.Auth.SSHKeyFile)
			check(at+"knownHostsFile", r.Auth.KnownHostsFile)
		}
		check("commit.signingKeyFile", b.Commit.SigningKeyFile)
	}
	for i, h := range b.Registries.Hosts {
		check(fmt.Sprintf("registries.hosts[%d].caFile", i), h.CAFile)
	}
}

// Limits bound the work of a pass whatever a repository or server holds.
type Limits struct {
	// PassTimeout is the deadline of one pass over one repository. The
	// default is DefaultPassTimeout or half the schedule's shortest
	// interval, whichever is shorter.
	PassTimeout time.Duration
	// MaxFileSize is the size above which a manifest is reported as a
	// problem and not read. Default DefaultMaxFileSize.
	MaxFileSize int64
	// MaxObjectSize is the size of the largest file (git object) a clone
	// or fetch takes: a larger one fails the pass. Default
	// DefaultMaxObjectSize.
	MaxObjectSize int64
}

// Defaults of Limits.
const (
	DefaultPassTimeout = 10 * time.Minute
	DefaultMaxFileSize = 4 << 20
	// DefaultMaxObjectSize is the largest file GitHub accepts in a
	// repository.
	DefaultMaxObjectSize = 100 << 20
)

type limitsFile struct {
	PassTimeout   string `yaml:"passTimeout"`
	MaxFileSize   string `yaml:"maxFileSize"`
	MaxObjectSize string `yaml:"maxObjectSize"`
}

// checkLimits fills in b.Limits from f, with defaults.
func checkLimits(b *Bot, f limitsFile, now time.Time, bad func(path, format string, args ...any)) {
	b.Limits = Limits{PassTimeout: DefaultPassTimeout, MaxFileSize: DefaultMaxFileSize, MaxObjectSize: DefaultMaxObjectSize}
	if f.PassTimeout == "" {
		if b.Cron != nil {
			if d := shortestInterval(b.Cron, now); d > 0 && d/2 < b.Limits.PassTimeout {
				b.Limits.PassTimeout = d / 2
			}
		}
	} else if d, err := ParseDuration(f.PassTimeout); err != nil {
		bad("limits.passTimeout", "%v", err)
	} else if d < time.Second {
		bad("limits.passTimeout", "%q is shorter than a second", f.PassTimeout)
	} else {
		b.Limits.PassTimeout = d
	}
	if f.MaxFileSize != "" {
		n, err := ParseSize(f.MaxFileSize)
		switch {
		case err != nil:
			bad("limits.maxFileSize", "%v", err)
		case n < 1<<10:
			bad("limits.maxFileSize", "%q is less than 1KiB", f.MaxFileSize)
		default:
			b.Limits.MaxFileSize = n
		}
	}
	if f.MaxObjectSize != "" {
		n, err := ParseSize(f.MaxObjectSize)
		switch {
		case err != nil:
			bad("limits.maxObjectSize", "%v", err)
		case n < 1<<20:
			bad("limits.maxObjectSize", "%q is less than 1MiB", f.MaxObjectSize)
		default:
			b.Limits.MaxObjectSize = n
		}
	}
}

// ParseSize reads a size in bytes: a whole number, optionally followed by
// KiB, MiB or GiB ("4MiB").
func ParseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(num, "+") || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 4MiB, 512KiB or 1048576", s)
	}
	return n * mult, nil
}
