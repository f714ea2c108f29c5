package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
	"github.com/imagebump/imagebump/test/unprivileged"
)

// runCLI runs the root command as main does and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		wantOut  string
		wantCode int
	}{
		{"clean", map[string]string{
			".imagebump.yaml":          "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"apps/api/.imagebump.yaml": "policies:\n  - {name: api, image: ghcr.io/acme/api, numerical: asc}\n",
			"apps/web.yaml":            "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n",
		}, "ok: 2 policies in 2 policy files, 1 markers\n", 0},
		{"broken", map[string]string{
			".imagebump.yaml":      "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semvar: '^1'\n",
			"apps/.imagebump.yaml": "policies:\n  - name: api\n    image: ghcr.io/acme/api\n    semver: '^1'\n    exclude: ['(']\n",
		}, ".imagebump.yaml:2: policy \"web\": semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none\n" +
			".imagebump.yaml:4: unknown field \"semvar\"\napps/.imagebump.yaml:5: policy \"api\": exclude[0]: error parsing regexp: missing closing ): `(`\n", 2},
		// Issue 16: three problems took three runs to see.
		{"every problem in one run", map[string]string{
			".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: '^1'\n    pinDigests: true\n" +
				"  - name: api\n    image: ghcr.io/acme/api:1.0\n    semver: '^1'\n",
			"apps/web.yaml": "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n" +
				"api: ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"api\"}\n" +
				"db: ghcr.io/acme/db:1.0.0 # {\"$imagepolicy\": \"db\"}\n",
		}, ".imagebump.yaml:5: unknown field \"pinDigests\"\n" +
			".imagebump.yaml:7: policy \"api\": image: \"ghcr.io/acme/api:1.0\" must be a repository without tag or digest\n" +
			"apps/web.yaml:3: marker names policy \"db\", which no policy file defines\n", 2},
		{"a file that does not decode: markers naming policies are not judged", map[string]string{
			".imagebump.yaml": "policies: {name: web}\n",
			"apps/web.yaml":   "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n",
		}, ".imagebump.yaml:1: cannot construct map into []config.policyEntry\n", 2},
		{"no policy files", map[string]string{"deploy.yaml": "kind: Deployment\n"}, "", 1},
		{"YAML syntax error", map[string]string{
			"apps/.imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n  semver: '*'\n",
		}, "apps/.imagebump.yaml:4:3: did not find expected '-' indicator (while parsing a block collection that starts at line 2)\n", 2},
		{"invalid images", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: a, image: ghcr.io/Acme/Web, semver: '*'}\n  - {name: b, image: INVALID//name, semver: '*'}\n" +
				"  - {name: c, image: 'http://x/y', semver: '*'}\n  - {name: d, image: /srv/web, semver: '*'}\n" +
				"  - name: e\n    semver: '*'\n    image: ghcr.io/acme/web:1.0\n",
		}, ".imagebump.yaml:2: policy \"a\": image: \"ghcr.io/Acme/Web\" is not a valid repository: repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Acme/Web\n" +
			".imagebump.yaml:3: policy \"b\": image: \"INVALID//name\" is not a repository REGISTRY/PATH such as ghcr.io/acme/web\n" +
			".imagebump.yaml:4: policy \"c\": image: \"http://x/y\" must be a repository such as ghcr.io/acme/web, without a URL scheme\n" +
			".imagebump.yaml:5: policy \"d\": image: \"/srv/web\" is not a repository REGISTRY/PATH such as ghcr.io/acme/web\n" +
			".imagebump.yaml:8: policy \"e\": image: \"ghcr.io/acme/web:1.0\" must be a repository without tag or digest\n", 2},
		{"marker problems", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"a.yaml":          "spec: # {\"$imagepolicy\": \"web\"}\n  x: 1\nimage: r:1 # {\"$imagepolicy\": \"wbe:tag\"}\n",
			"chart/t.yaml":    "{{- if .Values.web }}\nimage: r:1 # {\"$imagepolicy\": \"web\"}\n{{- end }}\n",
		}, "a.yaml:1: marker is on a mapping, not on a scalar value; not applied\na.yaml:3: marker names policy \"wbe\", which no policy file defines\nchart/t.yaml: not valid YAML, left untouched: did not find expected node content\n", 2},
		{"warnings only", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"a.yaml":          "a: r:1 # {\"$imagepolicy\": \"web\"}\nb: r:1 # {\"$imagePolicy\": \"web\"}\n",
			"u16.yaml":        "\xff\xfei\x00:\x00 \x00#\x00 \x00{\x00\"\x00$\x00i\x00m\x00a\x00g\x00e\x00p\x00o\x00l\x00i\x00c\x00y\x00\"\x00}\x00",
		}, "a.yaml:2: warning: comment looks like a marker but is not one: the key is \"$imagePolicy\", not \"$imagepolicy\"; not applied\n" +
			"u16.yaml:1: warning: the file is UTF-16 encoded and mentions imagepolicy; markers are read in UTF-8 files only, so none in this file is applied\n" +
			"ok: 1 policies in 1 policy files, 1 markers, 2 warning(s)\n", 0},
		{"warnings and problems", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"a.yaml":          "a: r:1 # {\"$imagepolicy\": \"web\"\nb: r:1 # {\"$imagepolicy\": \"wbe\"}\n",
		}, "a.yaml:1: warning: comment looks like a marker but is not one: the JSON object is not closed; not applied\n" +
			"a.yaml:2: marker names policy \"wbe\", which no policy file defines\n", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			out, _, code := runCLI(t, "validate", dir)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
		})
	}
}

// TestValidateNoPolicyFile checks what validate says of a tree without a
// policy file: where it looked, the names it accepts, the near misses, and
// exit 1 unless --allow-empty.
func TestValidateNoPolicyFile(t *testing.T) {
	const looked = "(looked in every directory but .git for a regular file named .imagebump.yaml or .imagebump.yml)"
	tests := []struct {
		name       string
		files      map[string]string
		link       string // a symbolic link .imagebump.yaml in this directory, to ../outside.yaml
		allowEmpty bool
		wantCode   int
		wantOut    string
		wantErr    []string // in stderr, after "under DIR "
	}{
		{name: "empty", files: map[string]string{"deploy.yaml": "kind: Deployment\n"},
			wantCode: exitFailed, wantErr: []string{looked + "; --allow-empty accepts a tree without one\n"}},
		{name: "bot config and a missing dot", files: map[string]string{
			"imagebump.yaml":           "schedule: '@hourly'\n",
			"apps/imagebump.yml":       "policies: []\n",
			".git/imagebump.yaml":      "not looked at\n",
			"apps/.imagebump.yaml.bak": "policies: []\n",
		}, wantCode: exitFailed, wantErr: []string{looked + "; not read: apps/.imagebump.yaml.bak (not one of those names), apps/imagebump.yml (not one of those names), imagebump.yaml (not one of those names); --allow-empty"}},
		{name: "linked policy file", files: map[string]string{"repo/deploy.yaml": "kind: Deployment\n", "outside.yaml": "policies: []\n"}, link: "repo",
			wantCode: exitFailed, wantErr: []string{"; not read: .imagebump.yaml (a symbolic link, never followed)"}},
		{name: "allowed", files: map[string]string{"deploy.yaml": "kind: Deployment\n"}, allowEmpty: true,
			wantCode: exitOK, wantOut: "ok: no policy files (--allow-empty), 0 markers\n"},
		{name: "markers without policy files", files: map[string]string{"a.yaml": "image: r:1 # {\"$imagepolicy\": \"web\"}\n"}, allowEmpty: true,
			wantCode: exitInvalid, wantOut: "a.yaml:1: marker names policy \"web\", which no policy file defines\n",
			wantErr: []string{"1 problem(s) found; no policy file under ", looked}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			if tc.link != "" {
				if err := os.Symlink("../outside.yaml", filepath.Join(dir, tc.link, ".imagebump.yaml")); err != nil {
					t.Fatal(err)
				}
				dir = filepath.Join(dir, tc.link)
			}
			args := []string{"validate", dir}
			if tc.allowEmpty {
				args = append(args, "--allow-empty")
			}
			out, stderr, code := runCLI(t, args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.wantCode, stderr)
			}
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tc.wantCode == exitFailed && !strings.Contains(stderr, "no policy file under "+dir+" ") {
				t.Errorf("stderr does not say where validate looked (%s):\n%s", dir, stderr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown command", []string{"bump"}, `unknown command "bump"`},
		{"unknown flag", []string{"validate", "--nope"}, "unknown flag: --nope"},
		{"too many args", []string{"validate", "a", "b"}, "takes at most 1 argument(s), got 2: a b"},
		{"missing dir", []string{"validate", "/nonexistent/dir"}, "no such file or directory"},
		{"plan missing dir", []string{"plan", "/nonexistent/dir"}, "no such file or directory"},
		{"apply missing dir", []string{"apply", "/nonexistent/dir"}, "no such file or directory"},
		{"plan on a file", []string{"plan", "/etc/hostname"}, "/etc/hostname is not a directory"},
		{"help on an unknown topic", []string{"help", "nosuch"}, `unknown help topic "nosuch"`},
		{"help on an unknown subtopic", []string{"help", "nosuch", "plan"}, `unknown help topic "nosuch plan"`},
		{"min-age not a duration", []string{"tags", "ghcr.io/acme/web", "--min-age", "3x"}, `invalid argument "3x" for "--min-age" flag: "3x" is not a duration such as 72h or 3d`},
		{"min-age in fractional days", []string{"tags", "ghcr.io/acme/web", "--min-age", "1.5d"}, `"1.5d" is not a duration such as 72h or 3d`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != exitInvalid {
				t.Errorf("exit code %d, want %d", code, exitInvalid)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"help", "plan"}, {"plan", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, stderr, code := runCLI(t, args...)
			if code != 0 || stderr != "" || !strings.Contains(out, "Usage:") {
				t.Errorf("exit %d, stderr %q, stdout %q; want usage text and exit 0", code, stderr, out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "imagebump dev\ncommit: unknown\ngo: go1.") {
		t.Errorf("version printed %q (exit %d)", out, code)
	}
}

// TestLinkedDir checks that a DIR that is a symbolic link (git-sync, volume
// mounts) is read and written through, as the directory it points to.
func TestLinkedDir(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.1.0")
	web := reg.Repo("acme/web")
	target := filetree.Write(t, map[string]string{
		".imagebump.yaml": "policies:\n  - {name: web, image: " + web + ", semver: '*'}\n",
		"apps/d.yaml":     "image: " + web + ":1.0.0 # {\"$imagepolicy\": \"web\"}\n",
	})
	links := t.TempDir()
	link := filepath.Join(links, "current")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	// A link to a link, relative, as git-sync makes them.
	chain := filepath.Join(links, "repo")
	if err := os.Symlink("current", chain); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{link, chain} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out, stderr, code := runCLI(t, "validate", dir)
			if want := "ok: 1 policies in 1 policy files, 1 markers\n"; code != 0 || out != want {
				t.Errorf("validate: exit %d, output %q, want 0 and %q; stderr %s", code, out, want, stderr)
			}
			out, stderr, code = runCLI(t, "plan", dir, "--exit-code")
			if code != exitChanges || !strings.Contains(out, "apps/d.yaml:1") {
				t.Errorf("plan: exit %d, want %d; output:\n%s%s", code, exitChanges, out, stderr)
			}
		})
	}
	if _, stderr, code := runCLI(t, "apply", chain); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, stderr)
	}
	if got, want := filetree.Read(t, target)["apps/d.yaml"], "image: "+web+":1.1.0 # {\"$imagepolicy\": \"web\"}\n"; got != want {
		t.Errorf("after apply through the link, apps/d.yaml = %q, want %q", got, want)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link itself was replaced: %v, %v", fi, err)
	}
}

// TestUnreadableDir checks that a directory that cannot be read makes the
// policy set invalid in every command alike (exit 2, nothing written), with
// its path, rather than aborting plan and apply with exit 1.
func TestUnreadableDir(t *testing.T) {
	if unprivileged.Run(t) {
		return
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := filetree.Write(t, map[string]string{
		".imagebump.yaml":        "policies:\n  - {name: web, image: 127.0.0.1:1/acme/web, semver: '*'}\n",
		"apps/d.yaml":            "image: 127.0.0.1:1/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n",
		"noread/.imagebump.yaml": "policies: []\n",
	})
	noread := filepath.Join(dir, "noread")
	if err := os.Chmod(noread, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(noread, 0o755) })
	const problem = "noread: cannot read directory: permission denied"
	for _, cmd := range []string{"validate", "plan", "apply"} {
		t.Run(cmd, func(t *testing.T) {
			out, stderr, code := runCLI(t, cmd, dir)
			if code != exitInvalid {
				t.Errorf("exit %d, want %d\n%s%s", code, exitInvalid, out, stderr)
			}
			// validate also scans the manifests, which may report the
			// directory in its own words.
			if cmd != "validate" && !strings.Contains(out, problem) {
				t.Errorf("output lacks %q:\n%s%s", problem, out, stderr)
			}
			if cmd == "validate" && !strings.Contains(out+stderr, "noread") {
				t.Errorf("output does not name the directory:\n%s%s", out, stderr)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "apps", "d.yaml")); err != nil || !strings.Contains(string(b), ":1.0.0 #") {
				t.Errorf("apps/d.yaml changed: %q, %v", b, err)
			}
		})
	}
}
