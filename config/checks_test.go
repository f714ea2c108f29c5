package config

import (
	"github.com/imagebump/imagebump/gitwriter/forges"

	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/problem"
)

// TestLoadBotRefuses covers the bot config checks that keep hostile or
// mistaken input from reaching a pass: user information in URLs, schedules
// that never fire or fire too often, credential files that are not there,
// bad limits, and an unknown field that must not hide the rest.
func TestLoadBotRefuses(t *testing.T) {
	dir := secretFiles(t, "token")
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("S", dir)
	const schedule = "schedule: '@hourly'\n"
	const repo = "repositories:\n  - url: https://github.com/acme/fleet.git\n"
	tests := []struct {
		name, content string
		want          []string
	}{
		{"token as the user name", schedule + "repositories:\n  - url: https://ghp_T0KEN@github.com/acme/fleet.git\n", []string{
			`F:3: repositories[0].url: "https://REDACTED@github.com/acme/fleet.git" holds user information before the host; credentials come from auth.tokenFile or auth.sshKeyFile`}},
		{"empty user information", schedule + "repositories:\n  - url: https://@github.com/acme/fleet.git\n", []string{
			`F:3: repositories[0].url: "https://REDACTED@github.com/acme/fleet.git" holds user information before the host; credentials come from auth.tokenFile or auth.sshKeyFile`}},
		{"token over plain http", schedule + "repositories:\n  - url: http://oauth2:glpat-x@git.acme.io/acme/fleet.git\n    mode: push\n", []string{
			`F:3: repositories[0].url: "http://REDACTED@git.acme.io/acme/fleet.git" holds a password before the host; credentials come from auth.tokenFile or auth.sshKeyFile`}},
		{"password in an ssh URL", schedule + "repositories:\n  - url: ssh://git:pw@github.com/acme/fleet.git\n", []string{
			`F:3: repositories[0].url: "ssh://REDACTED@github.com/acme/fleet.git" holds a password before the host; credentials come from auth.tokenFile or auth.sshKeyFile`}},
		{"token in a gitea apiURL", schedule + "repositories:\n  - url: https://git.acme.io/acme/fleet.git\n    gitea: {apiURL: 'https://T0KEN@git.acme.io'}\n", []string{
			`F:4: repositories[0].gitea.apiURL: "https://REDACTED@git.acme.io" holds user information; the token comes from auth.tokenFile`}},
		{"token in a github apiURL", schedule + "repositories:\n  - url: https://ghe.acme.io/acme/fleet.git\n    github: {apiURL: 'https://T0KEN@ghe.acme.io/api/v3/'}\n", []string{
			`F:4: repositories[0].github.apiURL: "https://REDACTED@ghe.acme.io/api/v3/" holds user information; the token comes from auth.tokenFile`}},
		{"schedule that never fires", "schedule: '0 0 30 2 *'\n" + repo, []string{
			`F:1: schedule: "0 0 30 2 *": names no time that will come (robfig/cron looks five years ahead)`}},
		{"every 0s", "schedule: '@every 0s'\n" + repo, []string{`F:1: schedule: "@every 0s": runs every 1s; the shortest interval is 1m0s`}},
		{"every 1ms", "schedule: '@every 1ms'\n" + repo, []string{`F:1: schedule: "@every 1ms": runs every 1s; the shortest interval is 1m0s`}},
		{"every 59s", "schedule: '@every 59s'\n" + repo, []string{`F:1: schedule: "@every 59s": runs every 59s; the shortest interval is 1m0s`}},
		{"missing token file", schedule + repo + "    auth: {tokenFile: '${S}/nothing'}\n", []string{
			`F:4: repositories[0].auth.tokenFile: cannot read ${S}/nothing: no such file or directory`}},
		{"key files that are directories or missing", schedule + "repositories:\n  - url: git@github.com:acme/fleet.git\n    auth: {sshKeyFile: '${S}/keys', knownHostsFile: '${S}/known_hosts'}\n", []string{
			`F:4: repositories[0].auth.sshKeyFile: ${S}/keys is a directory, not a file`,
			`F:4: repositories[0].auth.knownHostsFile: cannot read ${S}/known_hosts: no such file or directory`}},
		{"missing signing key and CA", schedule + repo + "commit: {signingKeyFile: '${S}/gpg.asc'}\nregistries: {hosts: [{host: r.io, caFile: '${S}/ca.pem'}]}\n", []string{
			`F:4: commit.signingKeyFile: cannot read ${S}/gpg.asc: no such file or directory`,
			`F:5: registries.hosts[0].caFile: cannot read ${S}/ca.pem: no such file or directory`}},
		{"bad limits", schedule + repo + "limits: {passTimeout: soon, maxFileSize: 4MB, maxObjectSize: lots}\n", []string{
			`F:4: limits.passTimeout: "soon" is not a duration such as 72h or 3d`,
			`F:4: limits.maxFileSize: "4MB" is not a size such as 4MiB, 512KiB or 1048576`,
			`F:4: limits.maxObjectSize: "lots" is not a size such as 4MiB, 512KiB or 1048576`}},
		{"limits too small", schedule + repo + "limits:\n  passTimeout: 10ms\n  maxFileSize: '100'\n  maxObjectSize: 512KiB\n", []string{
			`F:5: limits.passTimeout: "10ms" is shorter than a second`,
			`F:6: limits.maxFileSize: "100" is less than 1KiB`,
			`F:7: limits.maxObjectSize: "512KiB" is less than 1MiB`}},
		{"an unknown field does not hide the rest", "schedule: '@every 1s'\nrepositories:\n  - url: https://TOKEN@github.com/acme/fleet.git\n    brnach: main\n    auth: {tokenFile: '${S}/nothing'}\n", []string{
			`F:1: schedule: "@every 1s": runs every 1s; the shortest interval is 1m0s`,
			`F:3: repositories[0].url: "https://REDACTED@github.com/acme/fleet.git" holds user information before the host; credentials come from auth.tokenFile or auth.sshKeyFile`,
			"F:4: repositories[0].brnach: unknown field (a forge section is one of github, gitlab, gitea)",
			`F:5: repositories[0].auth.tokenFile: cannot read ${S}/nothing: no such file or directory`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBot(writeConfig(t, tc.content), forges.All())
			var problems problem.List
			if !errors.As(err, &problems) {
				t.Fatalf("LoadBot error %v, want problem.List", err)
			}
			var got []string
			for _, p := range problems.Sorted() {
				p.File = "F"
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadBotAccepts(t *testing.T) {
	tests := []struct{ name, content string }{
		{"ssh URL with a login name", "schedule: '@hourly'\nrepositories:\n  - url: ssh://git@github.com/acme/fleet.git\n"},
		{"scp-like URL", "schedule: '@hourly'\nrepositories:\n  - url: git@github.com:acme/fleet.git\n"},
		{"every minute", "schedule: '* * * * *'\nrepositories:\n  - url: https://github.com/acme/fleet.git\n"},
		{"every 1m", "schedule: '@every 1m'\nrepositories:\n  - url: https://github.com/acme/fleet.git\n"},
		{"leap day", "schedule: '0 0 29 2 *'\nrepositories:\n  - url: https://github.com/acme/fleet.git\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadBot(writeConfig(t, tc.content), forges.All()); err != nil {
				t.Errorf("LoadBot: %v", err)
			}
		})
	}
}

// TestLoadBotWithoutFiles checks that WithoutFiles skips only the file
// checks.
func TestLoadBotWithoutFiles(t *testing.T) {
	path := writeConfig(t, "schedule: '@hourly'\nrepositories:\n  - url: https://github.com/acme/fleet.git\n    auth: {tokenFile: /nonexistent/token}\n")
	if _, err := LoadBot(path, forges.All(), WithoutFiles()); err != nil {
		t.Errorf("LoadBot(WithoutFiles): %v", err)
	}
	if _, err := LoadBot(path, forges.All()); err == nil {
		t.Errorf("LoadBot: no error for a missing tokenFile")
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://github.com/acme/fleet.git", "https://github.com/acme/fleet.git"},
		{"https://ghp_T0KEN@github.com/acme/fleet.git", "https://REDACTED@github.com/acme/fleet.git"},
		{"https://x-access-token:ghp_T0KEN@github.com/a/b", "https://REDACTED@github.com/a/b"},
		{"ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git"},
		{"ssh://git:pw@github.com/a/b.git", "ssh://REDACTED@github.com/a/b.git"},
		{"git@github.com:a/b.git", "git@github.com:a/b.git"},
		{"https://T0KEN@git hub.com/a", "https://REDACTED@git hub.com/a"}, // does not parse
	}
	for _, tc := range tests {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no url here", "no url here"},
		{`cloning https://ghp_T0KEN@github.com/a/b.git: fetch "https://u:p@h/x" failed`, `cloning https://REDACTED@github.com/a/b.git: fetch "https://REDACTED@h/x" failed`},
		{"ssh://git@github.com/a/b.git and ssh://git:pw@h/c", "ssh://git@github.com/a/b.git and ssh://REDACTED@h/c"},
		{"mail me at bot@acme.io", "mail me at bot@acme.io"},
	}
	for _, tc := range tests {
		if got := RedactURLs(tc.in); got != tc.want {
			t.Errorf("RedactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLoadPoliciesTooLarge checks that a policy file above
// MaxPolicyFileSize is a problem and is not read whole.
func TestLoadPoliciesTooLarge(t *testing.T) {
	root := t.TempDir()
	src := "policies: []\n#" + strings.Repeat("x", MaxPolicyFileSize) + "\n"
	if err := os.WriteFile(filepath.Join(root, ".imagebump.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPolicies(root)
	var problems problem.List
	if !errors.As(err, &problems) {
		t.Fatalf("LoadPolicies error %v, want problems", err)
	}
	want := []string{".imagebump.yaml: cannot read: the file is larger than the 1MiB a policy file may have"}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
