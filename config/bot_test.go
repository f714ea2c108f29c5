package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/problem"
)

// kind is the forge kind named name in the table run uses.
func kind(name string) forge.Kind {
	k, ok := forges.All().Lookup(name)
	if !ok {
		panic("no forge kind " + name)
	}
	return k
}

// sameKind compares forge kinds by name: their constructors are funcs.
var sameKind = cmp.Comparer(func(a, b forge.Kind) bool { return a.Name == b.Name })

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "imagebump.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secretFiles creates empty files with the given names in a new directory
// and returns the directory.
func secretFiles(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadBot(t *testing.T) {
	t.Setenv("IMAGEBUMP_TEST_HOST", "registry.internal:5000")
	dir := secretFiles(t, "token", "id", "known_hosts", "ca.pem")
	t.Setenv("S", dir)
	path := writeConfig(t, `schedule: "CRON_TZ=Europe/Berlin */10 * * * *"
workDir: /work
log: {format: text, level: debug}
repositories:
  - url: https://github.com/acme/fleet.git
    paths: [clusters/prod]
    auth:
      tokenFile: ${S}/token
  - url: git@github.example.com:platform/infra.git
    branch: release
    mode: push
    pushBranch: imagebump/updates
    auth: {sshKeyFile: "${S}/id", knownHostsFile: "${S}/known_hosts"}
    github: {apiURL: "https://github.example.com/api/v3/"}
commit:
  author: {name: bot, email: bot@acme.io}
  messageTemplate: "{{ range $c := . }}{{ $c.New }}{{ end }}"
registries:
  dockerConfig: /docker/config.json
  hosts:
    - host: ${IMAGEBUMP_TEST_HOST}
      insecure: true
      caFile: ${S}/ca.pem
      maxConcurrency: 2
      requestsPerSecond: 5.5
limits:
  passTimeout: 3m
  maxFileSize: 2MiB
  maxObjectSize: 1GiB
`)
	got, err := LoadBot(path, forges.All())
	if err != nil {
		t.Fatalf("LoadBot: %v", err)
	}
	want := &Bot{
		Schedule: "CRON_TZ=Europe/Berlin */10 * * * *",
		WorkDir:  "/work",
		Listen:   ":8080",
		Log:      Log{Format: "text", Level: "debug"},
		Repositories: []Repository{
			{URL: "https://github.com/acme/fleet.git", Branch: "main", Paths: []string{"clusters/prod"}, Mode: PullRequest,
				Auth: Auth{TokenFile: dir + "/token"}, Forge: kind("github"), Owner: "acme", Name: "fleet", Line: 5},
			{URL: "git@github.example.com:platform/infra.git", Branch: "release", Mode: Push, PushBranch: "imagebump/updates",
				Auth:  Auth{SSHKeyFile: dir + "/id", KnownHostsFile: dir + "/known_hosts"},
				Forge: kind("github"), APIURL: "https://github.example.com/api/v3/", Owner: "platform", Name: "infra", Line: 9},
		},
		Commit: Commit{AuthorName: "bot", AuthorEmail: "bot@acme.io", MessageTemplate: "{{ range $c := . }}{{ $c.New }}{{ end }}"},
		Registries: Registries{DockerConfig: "/docker/config.json", Hosts: []RegistryHost{
			{Host: "registry.internal:5000", Insecure: true, CAFile: dir + "/ca.pem", MaxConcurrency: 2, RequestsPerSecond: 5.5},
		}},
		Limits:      Limits{PassTimeout: 3 * time.Minute, MaxFileSize: 2 << 20, MaxObjectSize: 1 << 30},
		Webhooks:    Webhooks{Debounce: 2 * time.Second, MaxBodyBytes: 1 << 20},
		Pushgateway: Pushgateway{Job: "imagebump"},
	}
	if diff := cmp.Diff(want, got, sameKind, cmpopts.IgnoreFields(Bot{}, "Cron"), cmpopts.IgnoreFields(Commit{}, "Template")); diff != "" {
		t.Errorf("LoadBot (-want +got):\n%s", diff)
	}
	if got.Cron == nil || got.Commit.Template == nil {
		t.Errorf("schedule or template not parsed: %v %v", got.Cron, got.Commit.Template)
	}
}

func TestLoadBotDefaults(t *testing.T) {
	got, err := LoadBot(writeConfig(t, "schedule: '@every 5m'\nrepositories:\n  - url: https://github.com/acme/fleet\n"), forges.All())
	if err != nil {
		t.Fatal(err)
	}
	want := &Bot{
		Schedule: "@every 5m", WorkDir: "/var/lib/imagebump", Listen: ":8080", Log: Log{Level: "info"},
		Repositories: []Repository{{URL: "https://github.com/acme/fleet", Branch: "main", Mode: PullRequest, Forge: kind("github"), Owner: "acme", Name: "fleet", Line: 3}},
		Commit:       Commit{AuthorName: "imagebump", AuthorEmail: "imagebump@users.noreply.github.com"},
		// Half the schedule's interval, under DefaultPassTimeout.
		Limits:      Limits{PassTimeout: 150 * time.Second, MaxFileSize: DefaultMaxFileSize, MaxObjectSize: DefaultMaxObjectSize},
		Webhooks:    Webhooks{Debounce: 2 * time.Second, MaxBodyBytes: 1 << 20},
		Pushgateway: Pushgateway{Job: "imagebump"},
	}
	if diff := cmp.Diff(want, got, sameKind, cmpopts.IgnoreFields(Bot{}, "Cron")); diff != "" {
		t.Errorf("LoadBot (-want +got):\n%s", diff)
	}
}

func TestLoadBotProblems(t *testing.T) {
	const repo = "repositories:\n  - url: https://github.com/acme/fleet.git\n"
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown field", "schedule: '@hourly'\nschedul: x\n" + repo, []string{`F:2: unknown field "schedul"`}},
		{"unknown nested field", "schedule: '@hourly'\nrepositories:\n  - url: https://github.com/a/b\n    auth: {token: x}\n", []string{`F:4: unknown field "token"`}},
		{"bad cron", "schedule: '*/10 * * *'\n" + repo, []string{`F:1: schedule: "*/10 * * *": expected exactly 5 fields, found 4: [*/10 * * *]`}},
		{"seconds field refused", "schedule: '0 */10 * * * *'\n" + repo, []string{`F:1: schedule: "0 */10 * * * *": expected exactly 5 fields, found 6: [0 */10 * * * *]`}},
		{"missing schedule and repositories", "workDir: /x\n", []string{
			`F:1: schedule: is required, e.g. "*/10 * * * *" or "@every 10m"`,
			`F:1: repositories: at least one repository is required`}},
		{"syntax error", "schedule: '@hourly'\nrepositories:\n  - url: https://github.com/a/b\n   branch: x\n", []string{
			`F:4:4: did not find expected '-' indicator (while parsing a block collection that starts at line 3)`}},
		{"aliases refused", "schedule: &s '@hourly'\nrepositories:\n  - &r {url: https://github.com/a/b}\n  - *r\nlisten: *s\n", []string{
			`F:4: YAML alias *r: aliases are not allowed in the bot config; write the value out`,
			`F:5: YAML alias *s: aliases are not allowed in the bot config; write the value out`}},
		{"unset env", "schedule: '@hourly'\n" + repo + "registries:\n  dockerConfig: ${IMAGEBUMP_UNSET_VAR}\n", []string{`F:5: environment variable IMAGEBUMP_UNSET_VAR is not set`}},
		{"registry providers", "schedule: '@hourly'\n" + repo + "registries:\n  hosts:\n    - host: acme.azurecr.io\n      provider: Azure\n    - host: r.io\n      provider: ecr\n    - host: gcr.io\n      provider: auto\n    - host: acme.azurecr.us\n      provider: azure\n", []string{
			`F:7: registries.hosts[0].provider: "Azure": want aws, gcp, azure or auto`,
			`F:9: registries.hosts[1].provider: "ecr": want aws, gcp, azure or auto`}},
		{"repository errors", `schedule: '@hourly'
listen: 8080
log: {format: xml, level: loud}
repositories:
  - url: ftp://example.com/a/b
  - url: https://github.com/onlyowner
    mode: pull
    pushBranch: x
  - url: https://user:secret@github.com/a/b.git
    paths: [../up, /abs]
  - url: https://github.com/acme/fleet
    auth: {tokenFile: /t, sshKeyFile: /k}
    github: {apiURL: "github.com"}
  - url: git@github.com:acme/fleet.git
    branch: "bad..name"
    auth: {sshKeyFile: /k}
commit:
  author: {email: nobody}
  messageTemplate: "{{ .Foo"
registries:
  hosts:
    - host: https://r.io
    - host: r.io
      maxConcurrency: -1
      requestsPerSecond: -2
    - host: r.io
`, []string{
			`F:2: listen: "8080" is not host:port or :port`,
			`F:3: log.format: "xml" is not json or text`,
			`F:3: log.level: "loud" is not debug, info, warn or error`,
			`F:5: repositories[0].url: "ftp://example.com/a/b": scheme ftp is not https, ssh or http`,
			`F:6: repositories[1].url: "https://github.com/onlyowner": the path must end in OWNER/REPO`,
			`F:7: repositories[1].mode: "pull" is not pullRequest or push`,
			`F:8: repositories[1].pushBranch: applies only to mode: push`,
			`F:9: repositories[2].url: "https://REDACTED@github.com/a/b.git" holds a password before the host; credentials come from auth.tokenFile or auth.sshKeyFile`,
			`F:10: repositories[2].paths[0]: "../up" must be a relative path inside the repository`,
			`F:10: repositories[2].paths[1]: "/abs" must be a relative path inside the repository`,
			`F:12: repositories[3].auth: set tokenFile or sshKeyFile, not both`,
			`F:12: repositories[3].auth.tokenFile: cannot read /t: no such file or directory`,
			`F:12: repositories[3].auth.sshKeyFile: cannot read /k: no such file or directory`,
			`F:12: repositories[3].auth.knownHostsFile: is required with sshKeyFile: host keys are always verified`,
			`F:12: repositories[3].auth.sshKeyFile: needs an ssh URL, not https://github.com/acme/fleet`,
			`F:13: repositories[3].github.apiURL: "github.com" is not an http(s) URL`,
			`F:15: repositories[4].branch: "bad..name" is not a valid git branch name`,
			`F:16: repositories[4].auth.knownHostsFile: is required with sshKeyFile: host keys are always verified`,
			`F:16: repositories[4].auth.sshKeyFile: cannot read /k: no such file or directory`,
			`F:18: commit.author.email: "nobody" is not an email address`,
			`F:19: commit.messageTemplate: template: message:1: unclosed action`,
			`F:22: registries.hosts[0].host: "https://r.io" must be a host[:port], without scheme or path`,
			`F:24: registries.hosts[1].maxConcurrency: -1 is negative`,
			`F:25: registries.hosts[1].requestsPerSecond: -2 is negative (0 means unlimited)`,
			`F:26: registries.hosts[2].host: "r.io" is listed twice`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := LoadBot(path, forges.All())
			var problems problem.List
			if !errors.As(err, &problems) {
				t.Fatalf("LoadBot error %v, want problem.List", err)
			}
			var got []string
			for _, p := range problems {
				p.File = "F"
				got = append(got, p.String())
			}
			slices.Sort(got)
			want := append([]string(nil), tc.want...)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadBotRedacts checks that values from the environment and tokens in
// URLs never appear in problems.
func TestLoadBotRedacts(t *testing.T) {
	const token = "ghp_s3cretT0ken"
	t.Setenv("IMAGEBUMP_TEST_TOKEN", token)
	path := writeConfig(t, `schedule: "@every 5m"
repositories:
  - url: https://${IMAGEBUMP_TEST_TOKEN}@github.com/acme
  - url: ftp://`+token+`@example.com/a/b
  - url: https://x:${IMAGEBUMP_TEST_TOKEN}@github.com/acme/fleet.git
`)
	_, err := LoadBot(path, forges.All())
	var problems problem.List
	if !errors.As(err, &problems) || len(problems) != 3 {
		t.Fatalf("LoadBot error %v, want 3 problems", err)
	}
	for _, p := range problems {
		if strings.Contains(p.Message, token) {
			t.Errorf("problem shows the token: %s", p)
		}
	}
	if got := problems[0].Message; !strings.Contains(got, "${IMAGEBUMP_TEST_TOKEN}") && !strings.Contains(got, "REDACTED") {
		t.Errorf("problem %q names neither the variable nor REDACTED", got)
	}
}

func TestLoadRegistries(t *testing.T) {
	t.Setenv("IMAGEBUMP_TEST_DOCKER_CONFIG", "/secrets/docker.json")
	tests := []struct {
		name, content string
		want          *Registries
		wantProblems  []string
	}{
		{"only registries", "registries:\n  dockerConfig: ${IMAGEBUMP_TEST_DOCKER_CONFIG}\n  hosts: [{host: 'r.io:5000', insecure: true}]\n",
			&Registries{DockerConfig: "/secrets/docker.json", Hosts: []RegistryHost{{Host: "r.io:5000", Insecure: true}}}, nil},
		{"a whole bot config", "schedule: '@hourly'\nrepositories: [{url: https://github.com/a/b}]\nregistries: {hosts: [{host: r.io}]}\n",
			&Registries{Hosts: []RegistryHost{{Host: "r.io"}}}, nil},
		// What only run uses is not checked...
		{"the rest invalid or missing", "schedule: 'every hour'\nlog: {format: xml}\nrepositories: [{url: 'ftp://x/y', auth: {tokenFile: '${IMAGEBUMP_UNSET_VAR}'}}]\n",
			&Registries{}, nil},
		// ...but the file is still decoded strictly, as a whole.
		{"unknown field outside registries", "registries: {}\nrepositories: [{url: https://github.com/a/b, brnach: x}]\n", nil,
			[]string{`F:2: repositories[0].brnach: unknown field (a forge section is one of github, gitlab, gitea)`}},
		{"wrong type outside registries", "schedule: [a]\nregistries: {}\n", nil,
			[]string{`F:1: cannot construct seq into string`}},
		{"invalid registries", "registries:\n  dockerConfig: ${IMAGEBUMP_UNSET_VAR}\n", nil,
			[]string{`F:2: environment variable IMAGEBUMP_UNSET_VAR is not set`}},
		{"invalid host", "registries:\n  hosts: [{host: 'https://r.io'}, {host: r.io, maxConcurrency: -1}]\n", nil,
			[]string{`F:2: registries.hosts[0].host: "https://r.io" must be a host[:port], without scheme or path`, `F:2: registries.hosts[1].maxConcurrency: -1 is negative`}},
		{"empty", "", nil, []string{`F: the bot config is empty`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadRegistries(writeConfig(t, tc.content), forges.All())
			var problems problem.List
			if tc.wantProblems == nil {
				if err != nil {
					t.Fatalf("LoadRegistries: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("LoadRegistries (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.As(err, &problems) {
				t.Fatalf("LoadRegistries = %v, %v; want problem.List", got, err)
			}
			var gotProblems []string
			for _, p := range problems {
				p.File = "F"
				gotProblems = append(gotProblems, p.String())
			}
			if diff := cmp.Diff(tc.wantProblems, gotProblems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadRegistriesRedacts checks that a value from the environment does
// not appear in a problem about the registries section.
func TestLoadRegistriesRedacts(t *testing.T) {
	const secret = "r3gistry-s3cret.example.com/path"
	t.Setenv("IMAGEBUMP_TEST_SECRET", secret)
	_, err := LoadRegistries(writeConfig(t, "registries:\n  hosts: [{host: '${IMAGEBUMP_TEST_SECRET}'}]\n"), forges.All())
	var problems problem.List
	if !errors.As(err, &problems) || len(problems) != 1 {
		t.Fatalf("LoadRegistries error %v, want 1 problem", err)
	}
	if got := problems[0].Message; strings.Contains(got, secret) || !strings.Contains(got, "${IMAGEBUMP_TEST_SECRET}") {
		t.Errorf("problem %q shows the value or does not name the variable", got)
	}
}

func TestLoadBotForges(t *testing.T) {
	tests := []struct {
		name, repo string
		want       Repository
	}{
		{"github inferred", "url: https://github.com/acme/fleet.git",
			Repository{Forge: kind("github"), Owner: "acme", Name: "fleet"}},
		{"github inferred over ssh", "url: git@github.com:acme/fleet.git",
			Repository{Forge: kind("github"), Owner: "acme", Name: "fleet"}},
		{"gitlab inferred", "url: https://gitlab.com/acme/platform/fleet.git",
			Repository{Forge: kind("gitlab"), APIURL: "https://gitlab.com/api/v4", Owner: "acme/platform", Name: "fleet"}},
		{"gitlab section without apiURL on gitlab.com", "url: https://GitLab.com/acme/fleet\n    gitlab: {}",
			Repository{Forge: kind("gitlab"), APIURL: "https://gitlab.com/api/v4", Owner: "acme", Name: "fleet"}},
		{"self-managed gitlab with nested groups", "url: https://git.acme.io/group/sub/project.git\n    gitlab: {apiURL: https://git.acme.io/api/v4}",
			Repository{Forge: kind("gitlab"), APIURL: "https://git.acme.io/api/v4", Owner: "group/sub", Name: "project"}},
		{"gitlab under a relative URL", "url: https://acme.io/gitlab/group/project.git\n    gitlab: {apiURL: https://acme.io/gitlab/api/v4}",
			Repository{Forge: kind("gitlab"), APIURL: "https://acme.io/gitlab/api/v4", Owner: "group", Name: "project"}},
		{"gitlab over ssh", "url: git@git.acme.io:group/sub/project.git\n    gitlab: {apiURL: https://git.acme.io/api/v4}",
			Repository{Forge: kind("gitlab"), APIURL: "https://git.acme.io/api/v4", Owner: "group/sub", Name: "project"}},
		{"gitea", "url: https://gitea.acme.io/acme/fleet.git\n    gitea: {apiURL: https://gitea.acme.io}",
			Repository{Forge: kind("gitea"), APIURL: "https://gitea.acme.io", Owner: "acme", Name: "fleet"}},
		{"github enterprise", "url: https://ghe.acme.io/acme/fleet.git\n    github: {apiURL: https://ghe.acme.io/api/v3/}",
			Repository{Forge: kind("github"), APIURL: "https://ghe.acme.io/api/v3/", Owner: "acme", Name: "fleet"}},
		{"push mode needs no forge", "url: https://git.acme.io/acme/fleet.git\n    mode: push",
			Repository{Mode: Push, Owner: "acme", Name: "fleet"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBot(writeConfig(t, "schedule: '@hourly'\nrepositories:\n  - "+tc.repo+"\n"), forges.All())
			if err != nil {
				t.Fatal(err)
			}
			got := b.Repositories[0]
			if tc.want.Mode == "" {
				tc.want.Mode = PullRequest
			}
			if diff := cmp.Diff(tc.want, got, sameKind, cmpopts.IgnoreFields(Repository{}, "URL", "Branch", "Line")); diff != "" {
				t.Errorf("repository (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadBotForgeProblems(t *testing.T) {
	tests := []struct {
		name, repo string
		want       []string
	}{
		{"unknown host in pull request mode", "url: https://git.acme.io/acme/fleet.git",
			[]string{`F:3: repositories[0]: pull request mode on host git.acme.io: name its forge: github, gitlab or gitea with apiURL`}},
		{"two forges", "url: https://git.acme.io/acme/fleet.git\n    gitlab: {apiURL: https://git.acme.io/api/v4}\n    gitea: {apiURL: https://git.acme.io}",
			[]string{`F:5: repositories[0].gitea: a repository has one forge: keep one of gitlab and gitea`}},
		{"gitea without apiURL", "url: https://git.acme.io/acme/fleet.git\n    gitea: {}",
			[]string{`F:4: repositories[0].gitea.apiURL: is required for host git.acme.io, e.g. https://git.acme.io`}},
		{"self-managed gitlab without apiURL", "url: https://git.acme.io/acme/fleet.git\n    gitlab: {}",
			[]string{`F:4: repositories[0].gitlab.apiURL: is required for host git.acme.io, e.g. https://git.acme.io/api/v4`}},
		{"github enterprise without apiURL", "url: https://ghe.acme.io/acme/fleet.git\n    github: {}",
			[]string{`F:4: repositories[0].github.apiURL: is required for host ghe.acme.io, e.g. https://ghe.acme.io/api/v3/`}},
		{"apiURL not a URL", "url: https://git.acme.io/acme/fleet.git\n    gitea: {apiURL: git.acme.io}",
			[]string{`F:4: repositories[0].gitea.apiURL: "git.acme.io" is not an http(s) URL`}},
		{"apiURL with credentials", "url: https://git.acme.io/acme/fleet.git\n    gitlab: {apiURL: \"https://u:tok@git.acme.io/api/v4\"}",
			[]string{`F:4: repositories[0].gitlab.apiURL: "https://REDACTED@git.acme.io/api/v4" holds user information; the token comes from auth.tokenFile`}},
		{"unknown field in a forge section", "url: https://git.acme.io/acme/fleet.git\n    gitea: {apiUrl: https://git.acme.io}",
			[]string{`F:4: repositories[0].gitea.apiUrl: unknown field (a forge section has only apiURL)`}},
		{"gitlab project path with an empty group", "url: https://git.acme.io/acme//fleet.git\n    gitlab: {apiURL: https://git.acme.io/api/v4}",
			[]string{`F:3: repositories[0].url: "https://git.acme.io/acme//fleet.git": the path must be GROUP/…/PROJECT`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBot(writeConfig(t, "schedule: '@hourly'\nrepositories:\n  - "+tc.repo+"\n"), forges.All())
			var problems problem.List
			if !errors.As(err, &problems) {
				t.Fatalf("LoadBot error %v, want problem.List", err)
			}
			var got []string
			for _, p := range problems {
				p.File = "F"
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadBotForgeTable checks that config knows forges only from the table
// it is given: a new forge is one entry, with its section, public host and
// path rules, and a forge missing from the table is an unknown field.
func TestLoadBotForgeTable(t *testing.T) {
	bucket := forge.Kind{
		Name: "bitbucket", Title: "Bitbucket", TokenUser: "x-token-auth",
		New:        func(string, string, string, *slog.Logger) (pullrequest.Forge, error) { return nil, nil },
		PublicHost: "bitbucket.org", PublicAPI: "https://api.bitbucket.org/2.0", APIExample: "https://%s/rest/api/1.0",
	}
	table := forge.Kinds{bucket}
	for _, tc := range []struct {
		name, repo string
		want       Repository
		problems   []string
	}{
		{name: "inferred from its public host", repo: "url: https://bitbucket.org/acme/fleet.git",
			want: Repository{Forge: bucket, APIURL: "https://api.bitbucket.org/2.0", Owner: "acme", Name: "fleet"}},
		{name: "named by its section", repo: "url: https://bb.acme.io/acme/fleet.git\n    bitbucket: {apiURL: https://bb.acme.io/rest/api/1.0}",
			want: Repository{Forge: bucket, APIURL: "https://bb.acme.io/rest/api/1.0", Owner: "acme", Name: "fleet"}},
		{name: "its example when apiURL is missing", repo: "url: https://bb.acme.io/acme/fleet.git\n    bitbucket:",
			problems: []string{`F:4: repositories[0].bitbucket.apiURL: is required for host bb.acme.io, e.g. https://bb.acme.io/rest/api/1.0`}},
		{name: "github is not in this table", repo: "url: https://github.com/acme/fleet.git\n    github: {}",
			problems: []string{`F:4: repositories[0].github: unknown field (a forge section is one of bitbucket)`}},
		{name: "a section is a mapping", repo: "url: https://bb.acme.io/acme/fleet.git\n    bitbucket: https://bb.acme.io",
			problems: []string{`F:4: repositories[0].bitbucket: is a section {apiURL: …}, not str`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBot(writeConfig(t, "schedule: '@hourly'\nrepositories:\n  - "+tc.repo+"\n"), table)
			var got []string
			var problems problem.List
			if errors.As(err, &problems) {
				for _, p := range problems {
					p.File = "F"
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.problems, got); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if tc.problems != nil {
				return
			}
			tc.want.Mode = PullRequest
			if diff := cmp.Diff(tc.want, b.Repositories[0], sameKind, cmpopts.IgnoreFields(Repository{}, "URL", "Branch", "Line")); diff != "" {
				t.Errorf("repository (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := LoadBot(writeConfig(t, "schedule: '@hourly'\nrepositories: [{url: https://bitbucket.org/a/b}]\n"), forge.Kinds{bucket, bucket}); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("LoadBot with a malformed table: %v", err)
	}
}
