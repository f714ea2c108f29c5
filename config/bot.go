package config

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v4"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/problem"
)

// Bot is the deployment-side configuration of imagebump (DESIGN.md "Bot
// config"), with defaults filled in.
type Bot struct {
	// Schedule is the cron spec of update passes; Cron is it parsed.
	Schedule string
	Cron     cron.Schedule
	// WorkDir holds the persistent clones. Default /var/lib/imagebump.
	WorkDir string
	// Listen is the address of /metrics, /healthz and /readyz. Default ":8080".
	Listen       string
	Log          Log
	Repositories []Repository
	Commit       Commit
	Registries   Registries
	// Limits bound the work of a pass.
	Limits Limits
	// Webhooks configures the notifications run accepts on Listen; its
	// zero value accepts none.
	Webhooks Webhooks
	// Pushgateway is where run --once pushes its metrics; its zero value
	// pushes nowhere.
	Pushgateway Pushgateway
}

// Log configures the bot's log output.
type Log struct {
	Format string // "json", "text", or "" for JSON unless stderr is a terminal
	Level  string // "debug", "info" (default), "warn" or "error"
}

// Mode is how a repository receives changes.
type Mode string

// Modes of a repository.
const (
	PullRequest Mode = "pullRequest" // one branch and pull request per group
	Push        Mode = "push"        // commit and push to the branch
)

// Repository is one manifests repository the bot updates.
type Repository struct {
	URL        string
	Branch     string   // default "main"
	Paths      []string // subtrees to scan; empty means all
	Mode       Mode     // default PullRequest
	PushBranch string   // push mode: push here instead of Branch
	Auth       Auth
	// Forge is the kind of forge that serves the repository's pull
	// requests: named by its section (github, gitlab, gitea, …), or
	// inferred from the host of a forge's public service (github.com,
	// gitlab.com). The zero Kind (Name "") only in push mode, which needs
	// none.
	Forge forge.Kind
	// APIURL is the forge's API root: as configured, or the kind's
	// PublicAPI when inferred ("" for api.github.com).
	APIURL string
	// Owner and Name are the repository's owner and name, from the URL
	// path. On GitLab, Owner is the whole namespace (group/sub), so
	// Owner/Name is the project path.
	Owner, Name string
	// Line is where the entry starts in the config file.
	Line int
	// NoFlux (flux: false) stops the repository's Flux image automation
	// objects being read as policies and instructions.
	NoFlux bool
}

// Auth holds file paths of a repository's credentials. The files are read
// when used, so rotated secrets are picked up; they are never logged.
type Auth struct {
	TokenFile      string
	SSHKeyFile     string
	KnownHostsFile string
}

// Commit configures the commits the bot makes.
type Commit struct {
	AuthorName, AuthorEmail string
	SigningKeyFile          string
	// MessageTemplate is a text/template over the list of changes; empty
	// means the built-in message. Template is it parsed, or nil.
	MessageTemplate string
	Template        *template.Template
}

// Registries configures registry access.
type Registries struct {
	DockerConfig string
	Hosts        []RegistryHost
}

// RegistryHost holds the settings of one registry host.
type RegistryHost struct {
	Host              string
	Insecure          bool
	CAFile            string
	MaxConcurrency    int
	RequestsPerSecond float64
	// Provider is the cloud whose workload identity serves the host when
	// the docker config has no credentials for it: aws, gcp, azure, or
	// auto (by the host's name); empty for none.
	Provider string
}

type botFile struct {
	Schedule     string           `yaml:"schedule"`
	WorkDir      string           `yaml:"workDir"`
	Listen       string           `yaml:"listen"`
	Log          logFile          `yaml:"log"`
	Repositories []repositoryFile `yaml:"repositories"`
	Commit       commitFile       `yaml:"commit"`
	Registries   registriesFile   `yaml:"registries"`
	Limits       limitsFile       `yaml:"limits"`
	Webhooks     webhooksFile     `yaml:"webhooks"`
	Pushgateway  pushgatewayFile  `yaml:"pushgateway"`
}

type logFile struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

type repositoryFile struct {
	URL        string   `yaml:"url"`
	Branch     string   `yaml:"branch"`
	Paths      []string `yaml:"paths"`
	Mode       string   `yaml:"mode"`
	PushBranch string   `yaml:"pushBranch"`
	Flux       *bool    `yaml:"flux"`
	Auth       struct {
		TokenFile      string `yaml:"tokenFile"`
		SSHKeyFile     string `yaml:"sshKeyFile"`
		KnownHostsFile string `yaml:"knownHostsFile"`
	} `yaml:"auth"`
	// Forges holds every other key: a section named for a forge kind
	// ({apiURL: …}; present, even empty, names the forge), or an unknown
	// field. The kinds come from the table LoadBot is given, so a new
	// forge needs no field here.
	Forges map[string]yaml.Node `yaml:",inline"`
}

type commitFile struct {
	Author struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
	} `yaml:"author"`
	SigningKeyFile  string `yaml:"signingKeyFile"`
	MessageTemplate string `yaml:"messageTemplate"`
}

type registriesFile struct {
	DockerConfig string `yaml:"dockerConfig"`
	Hosts        []struct {
		Host              string  `yaml:"host"`
		Insecure          bool    `yaml:"insecure"`
		CAFile            string  `yaml:"caFile"`
		MaxConcurrency    int     `yaml:"maxConcurrency"`
		RequestsPerSecond float64 `yaml:"requestsPerSecond"`
		Provider          string  `yaml:"provider"`
	} `yaml:"hosts"`
}

// cronParser accepts what DESIGN.md promises: five fields, descriptors
// such as @hourly and @every 5m, and a CRON_TZ= (or TZ=) prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// LoadBot reads and validates the bot config file at path; forges are the
// forge kinds a repository may name (cmd passes gitwriter/forges.All).
// The file is decoded strictly: an unknown field is an error. When
// anything is invalid the error is Problems, each with the line it is
// about. ${NAME} in string values is replaced by the environment variable
// NAME; a reference to an unset variable is a problem.
//
// The credential, key and CA files the config names must exist and be
// readable, unless WithoutFiles is given.
func LoadBot(path string, forges forge.Kinds, opts ...LoadOption) (*Bot, error) {
	if err := forges.Validate(); err != nil {
		return nil, fmt.Errorf("the forge table: %w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bot config: %w", err)
	}
	return parseBot(path, src, forges, false, newLoadOptions(opts))
}

func newLoadOptions(opts []LoadOption) loadOptions {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithoutFiles skips checking that the files the config names (tokenFile,
// sshKeyFile, knownHostsFile, signingKeyFile, caFile) can be read: for
// checking a config meant for another machine, such as the one of a
// Kubernetes manifest whose Secrets are mounted only in the cluster.
func WithoutFiles() LoadOption {
	return func(o *loadOptions) { o.skipFiles = true }
}

// LoadRegistries reads the registries section of the bot config file at
// path, for commands that use the file for nothing else (plan, apply and
// tags --config): a file with only registries: is enough. The whole file is
// still decoded strictly, so an unknown field anywhere is a problem with its
// line, but only the registries section is required to be valid; forges
// tell a repository's forge section from an unknown field.
func LoadRegistries(path string, forges forge.Kinds, opts ...LoadOption) (*Registries, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bot config: %w", err)
	}
	b, err := parseBot(path, src, forges, true, newLoadOptions(opts))
	if err != nil {
		return nil, err
	}
	return &b.Registries, nil
}

// parseBot decodes and validates a bot config; with registriesOnly, only
// its registries section is checked and returned.
func parseBot(file string, src []byte, forges forge.Kinds, registriesOnly bool, opts loadOptions) (*Bot, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, decodeProblems(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, problem.List{{File: file, Message: "the bot config is empty"}}
	}
	if ps := aliasProblems(file, "the bot config", &doc); len(ps) > 0 {
		return nil, ps
	}
	// Strict decoding of the file as written reports unknown fields and
	// wrong types at their lines; the values are then taken from the
	// document with ${NAME} references expanded. Unknown fields do not
	// stop the other checks, so that one run shows every problem.
	var f botFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	problems, fatal := strictProblems(file, dec.Decode(&f))
	if fatal {
		return nil, problems
	}
	secrets := map[string]string{} // expanded value → the ${NAME} it came from
	expand := &doc
	if registriesOnly {
		// References elsewhere are not used, so an unset one is no problem.
		expand = valueOf(doc.Content[0], "registries")
	}
	if expand != nil {
		expandEnv(expand, file, secrets, &problems)
	}
	if len(problems) > 0 && !onlyUnknownFields(problems) {
		return nil, problems
	}
	f = botFile{}
	if err := doc.Decode(&f); err != nil && len(problems) == 0 {
		return nil, decodeProblems(file, err)
	}
	top := doc.Content[0]
	line := func(path string) int { return fieldLine(top, path) }
	bad := func(path, format string, args ...any) {
		problems = append(problems, problem.Problem{File: file, Line: line(path), Message: path + ": " + fmt.Sprintf(format, args...)})
	}

	b := &Bot{
		Schedule: f.Schedule,
		WorkDir:  f.WorkDir,
		Listen:   f.Listen,
		Log:      Log{Format: f.Log.Format, Level: f.Log.Level},
		Commit: Commit{
			AuthorName:      f.Commit.Author.Name,
			AuthorEmail:     f.Commit.Author.Email,
			SigningKeyFile:  f.Commit.SigningKeyFile,
			MessageTemplate: f.Commit.MessageTemplate,
		},
		Registries: Registries{DockerConfig: f.Registries.DockerConfig},
	}
	if !registriesOnly {
		checkRun(b, f, forges, line, bad)
		checkWebhooks(b, f.Webhooks, bad)
		checkPushgateway(b, f.Pushgateway, bad)
	} else {
		// Forge sections are not validated, but an unknown field
		// (which the inline forge map swallows) still is.
		for i, r := range f.Repositories {
			unknownForges(r, forges, fmt.Sprintf("repositories[%d]", i), bad)
		}
	}

	hosts := map[string]bool{}
	for i, h := range f.Registries.Hosts {
		at := fmt.Sprintf("registries.hosts[%d]", i)
		switch {
		case h.Host == "":
			bad(at+".host", "is required")
		case strings.ContainsAny(h.Host, "/ ") || strings.Contains(h.Host, "://"):
			bad(at+".host", "%q must be a host[:port], without scheme or path", h.Host)
		case hosts[h.Host]:
			bad(at+".host", "%q is listed twice", h.Host)
		}
		hosts[h.Host] = true
		if h.MaxConcurrency < 0 {
			bad(at+".maxConcurrency", "%d is negative", h.MaxConcurrency)
		}
		if h.RequestsPerSecond < 0 {
			bad(at+".requestsPerSecond", "%v is negative (0 means unlimited)", h.RequestsPerSecond)
		}
		switch h.Provider {
		case "", "aws", "gcp", "azure", "auto":
		default:
			bad(at+".provider", "%q: want aws, gcp, azure or auto", h.Provider)
		}
		b.Registries.Hosts = append(b.Registries.Hosts, RegistryHost(h))
	}
	if !opts.skipFiles {
		checkFiles(b, registriesOnly, bad)
	}
	if len(problems) > 0 {
		// Values from the environment are often secrets: messages show
		// the reference that was written instead.
		for i := range problems {
			for value, ref := range secrets {
				problems[i].Message = strings.ReplaceAll(problems[i].Message, value, ref)
			}
		}
		return nil, problems
	}
	return b, nil
}

// checkRun validates what only run uses, everything but registries, and
// fills in its defaults.
func checkRun(b *Bot, f botFile, forges forge.Kinds, line func(path string) int, bad func(path, format string, args ...any)) {
	now := time.Now()
	if b.Schedule == "" {
		bad("schedule", "is required, e.g. \"*/10 * * * *\" or \"@every 10m\"")
	} else if s, err := checkSchedule(b.Schedule, now); err != nil {
		bad("schedule", "%q: %v", b.Schedule, err)
	} else {
		b.Cron = s
	}
	checkLimits(b, f.Limits, now, bad)
	if b.WorkDir == "" {
		b.WorkDir = "/var/lib/imagebump"
	}
	if b.Listen == "" {
		b.Listen = ":8080"
	} else if !validListen(b.Listen) {
		bad("listen", "%q is not host:port or :port", b.Listen)
	}
	switch b.Log.Format {
	case "", "json", "text":
	default:
		bad("log.format", "%q is not json or text", b.Log.Format)
	}
	switch b.Log.Level {
	case "":
		b.Log.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", b.Log.Level)
	}
	if b.Commit.AuthorName == "" {
		b.Commit.AuthorName = "imagebump"
	}
	if b.Commit.AuthorEmail == "" {
		b.Commit.AuthorEmail = "imagebump@users.noreply.github.com"
	} else if !strings.Contains(b.Commit.AuthorEmail, "@") {
		bad("commit.author.email", "%q is not an email address", b.Commit.AuthorEmail)
	}
	if t := b.Commit.MessageTemplate; t != "" {
		tmpl, err := template.New("message").Parse(t)
		if err != nil {
			bad("commit.messageTemplate", "%v", err)
		}
		b.Commit.Template = tmpl
	}

	if len(f.Repositories) == 0 {
		bad("repositories", "at least one repository is required")
	}
	seen := map[string]int{}
	for i, r := range f.Repositories {
		at := fmt.Sprintf("repositories[%d]", i)
		repo := Repository{
			URL: r.URL, Branch: r.Branch, Paths: r.Paths, Mode: Mode(r.Mode), PushBranch: r.PushBranch,
			Auth: Auth{TokenFile: r.Auth.TokenFile, SSHKeyFile: r.Auth.SSHKeyFile, KnownHostsFile: r.Auth.KnownHostsFile},
			Line: line(at), NoFlux: r.Flux != nil && !*r.Flux,
		}
		if repo.Branch == "" {
			repo.Branch = "main"
		}
		if repo.Mode == "" {
			repo.Mode = PullRequest
		}
		if repo.Mode != PullRequest && repo.Mode != Push {
			bad(at+".mode", "%q is not pullRequest or push", r.Mode)
		}
		if repo.PushBranch != "" && repo.Mode != Push {
			bad(at+".pushBranch", "applies only to mode: push")
		}
		for _, br := range []struct{ field, name string }{{"branch", repo.Branch}, {"pushBranch", repo.PushBranch}} {
			if br.name != "" && branchUnsafe.MatchString(br.name) {
				bad(at+"."+br.field, "%q is not a valid git branch name", br.name)
			}
		}
		for j, p := range repo.Paths {
			if p == "" || strings.HasPrefix(p, "/") || escapes(p) {
				bad(fmt.Sprintf("%s.paths[%d]", at, j), "%q must be a relative path inside the repository", p)
			}
		}
		forgeOK := checkForge(&repo, r, forges, at, line, bad)
		if repo.URL == "" {
			bad(at+".url", "is required")
		} else if owner, name, err := repoPath(repo.URL, repo.Forge, repo.APIURL); err != nil {
			bad(at+".url", "%v", err)
		} else {
			repo.Owner, repo.Name = owner, name
			if forgeOK && repo.Forge.Name == "" && repo.Mode == PullRequest {
				bad(at, "pull request mode on host %s: name its forge: %s with apiURL", hostOf(repo.URL), orList(forges.Names()))
			}
			if prev, dup := seen[repo.URL+"#"+repo.Branch]; dup {
				bad(at+".url", "%s (branch %s) is also repositories[%d]", RedactURL(repo.URL), repo.Branch, prev)
			}
			seen[repo.URL+"#"+repo.Branch] = i
		}
		a := repo.Auth
		if a.TokenFile != "" && a.SSHKeyFile != "" {
			bad(at+".auth", "set tokenFile or sshKeyFile, not both")
		}
		if a.SSHKeyFile != "" && a.KnownHostsFile == "" {
			bad(at+".auth.knownHostsFile", "is required with sshKeyFile: host keys are always verified")
		}
		if a.SSHKeyFile != "" && !isSSH(repo.URL) {
			bad(at+".auth.sshKeyFile", "needs an ssh URL, not %s", RedactURL(repo.URL))
		}
		b.Repositories = append(b.Repositories, repo)
	}
}

// checkForge sets repo's Forge and APIURL from the forge section of r (a
// key naming one of forges), or infers them from the host of a forge's
// public service. It reports false when a section is wrong, so no second
// problem is added about the forge. Keys naming no forge are unknown
// fields.
func checkForge(repo *Repository, r repositoryFile, forges forge.Kinds, at string, line func(path string) int, bad func(path, format string, args ...any)) bool {
	ok := !unknownForges(r, forges, at, bad)
	var set []forge.Kind
	for _, k := range forges {
		if _, present := r.Forges[k.Name]; present {
			set = append(set, k)
		}
	}
	host := hostOf(repo.URL)
	switch len(set) {
	case 0:
		if k, found := forges.ForHost(host); found {
			repo.Forge, repo.APIURL = k, k.PublicAPI
		}
		return ok
	case 1:
	default:
		bad(at+"."+set[1].Name, "a repository has one forge: keep one of %s and %s", set[0].Name, set[1].Name)
		return false
	}
	k := set[0]
	field := at + "." + k.Name + ".apiURL"
	node := r.Forges[k.Name]
	apiURL, sectionOK := forgeSection(node, at+"."+k.Name, line, bad)
	if !sectionOK {
		return false
	}
	repo.Forge, repo.APIURL = k, apiURL
	if apiURL != "" {
		if err := forge.CheckAPIURL(apiURL); err != nil {
			bad(field, "%v", err)
			return false
		}
		return ok
	}
	u, err := k.APIURL(host)
	if err != nil {
		bad(field, "%v", err)
		return false
	}
	repo.APIURL = u
	return ok
}

// unknownForges reports the keys of r that name no forge kind as unknown
// fields, and whether there were any.
func unknownForges(r repositoryFile, forges forge.Kinds, at string, bad func(path, format string, args ...any)) bool {
	found := false
	for _, key := range slices.Sorted(maps.Keys(r.Forges)) {
		if _, known := forges.Lookup(key); !known {
			bad(at+"."+key, "unknown field (a forge section is one of %s)", strings.Join(forges.Names(), ", "))
			found = true
		}
	}
	return found
}

// forgeSection reads a forge section: null, or a mapping whose one known
// field is apiURL, a string.
func forgeSection(n yaml.Node, at string, line func(path string) int, bad func(path, format string, args ...any)) (apiURL string, ok bool) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "", true
	case n.Kind != yaml.MappingNode:
		bad(at, "is a section {apiURL: …}, not %s", strings.TrimPrefix(n.ShortTag(), "!!"))
		return "", false
	}
	ok = true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Value != "apiURL":
			bad(at+"."+k.Value, "unknown field (a forge section has only apiURL)")
			ok = false
		case v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!null"):
			bad(at+".apiURL", "is a URL string")
			ok = false
		default:
			apiURL = v.Value
			if v.Tag == "!!null" {
				apiURL = ""
			}
		}
	}
	return apiURL, ok
}

// orList is names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// hostOf returns the host name of a git URL (https, ssh or scp-like), or
// "" when it has none.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		return strings.ToLower(u.Hostname())
	}
	if at, _, ok := strings.Cut(raw, ":"); ok && strings.Contains(at, "@") && !strings.Contains(at, "/") {
		_, host, _ := strings.Cut(at, "@")
		return strings.ToLower(host)
	}
	return ""
}

// repoPath returns OWNER and REPO from a git URL's path: https://HOST/OWNER/REPO(.git),
// ssh://git@HOST/OWNER/REPO.git or git@HOST:OWNER/REPO.git. On GitLab the
// whole path is the project's, groups and subgroups included, so owner is
// everything before the last element; a GitLab served under a relative URL
// (apiURL https://HOST/PREFIX/api/v4) has PREFIX taken off http(s) paths.
func repoPath(raw string, kind forge.Kind, apiURL string) (owner, name string, err error) {
	var path string
	if u, perr := url.Parse(raw); perr == nil && u.Scheme != "" && u.Host != "" {
		switch u.Scheme {
		case "https", "http", "ssh", "file":
		default:
			return "", "", fmt.Errorf("%q: scheme %s is not https, ssh or http", RedactURL(raw), u.Scheme)
		}
		if what := userInfo(raw); what != "" {
			return "", "", fmt.Errorf("%q holds %s before the host; credentials come from auth.tokenFile or auth.sshKeyFile", RedactURL(raw), what)
		}
		path = u.Path
		if u.Scheme != "https" && u.Scheme != "http" {
			// Only web URLs carry the API's relative URL root.
			apiURL = ""
		}
	} else if at, rest, ok := strings.Cut(raw, ":"); ok && strings.Contains(at, "@") && !strings.Contains(at, "/") {
		path = rest // scp-like git@github.com:OWNER/REPO.git
	} else {
		return "", "", fmt.Errorf("%q is not a git URL (https://HOST/OWNER/REPO.git, ssh://…, or git@HOST:OWNER/REPO.git)", RedactURL(raw))
	}
	path = strings.TrimSuffix(path, ".git")
	if kind.Name == "" {
		owner, name, err = forge.OwnerRepo(path)
	} else {
		owner, name, err = kind.Path(path, apiURL)
	}
	if err != nil {
		return "", "", fmt.Errorf("%q: %w", RedactURL(raw), err)
	}
	return owner, name, nil
}

func isSSH(raw string) bool {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		return u.Scheme == "ssh"
	}
	return strings.Contains(raw, "@") // scp-like
}

// escapes reports whether a relative path leaves its root.
func escapes(p string) bool {
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "..":
			depth--
		case ".", "":
		default:
			depth++
		}
		if depth < 0 {
			return true
		}
	}
	return false
}

// envRef matches a ${NAME} reference. A bare $NAME is left alone: commit
// message templates use $ for their variables.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} in every scalar of the document with the
// environment variable NAME, recording a problem for unset ones and each
// substituted value in secrets.
func expandEnv(n *yaml.Node, file string, secrets map[string]string, problems *problem.List) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := os.LookupEnv(name)
			if !ok {
				*problems = append(*problems, problem.Problem{File: file, Line: n.Line,
					Message: fmt.Sprintf("environment variable %s is not set", name)})
			}
			if v != "" {
				secrets[v] = ref
			}
			return v
		})
		return
	}
	for _, c := range n.Content {
		expandEnv(c, file, secrets, problems)
	}
}

// validListen accepts host:port, :port and [v6]:port. It does not resolve
// the host: config does no network I/O.
func validListen(addr string) bool {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return false
	}
	host, port := addr[:i], addr[i+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return false
	}
	if strings.HasPrefix(host, "[") {
		return strings.HasSuffix(host, "]")
	}
	return !strings.ContainsAny(host, ":[]/ ")
}

// Webhooks configures the webhook receiver of run (DESIGN.md "Events,
// status, shards").
type Webhooks struct {
	// SecretFiles maps each configured source (distribution, dockerhub,
	// harbor, quay, github, gitlab, gitea) to the file holding its
	// secret. The files are read on every request, so a rotated secret
	// is picked up; they are never logged.
	SecretFiles map[string]string
	// Debounce is how long an event waits for others before its pass
	// starts. Default 2s.
	Debounce time.Duration
	// MaxBodyBytes caps a notification's body. Default 1 MiB.
	MaxBodyBytes int64
}

// WebhookSources are the senders webhooks.sources may name, in the order
// the README lists them.
var WebhookSources = []string{"distribution", "dockerhub", "harbor", "quay", "github", "gitlab", "gitea"}

type webhooksFile struct {
	Debounce     string                       `yaml:"debounce"`
	MaxBodyBytes int64                        `yaml:"maxBodyBytes"`
	Sources      map[string]webhookSourceFile `yaml:"sources"`
}

type webhookSourceFile struct {
	SecretFile string `yaml:"secretFile"`
}

// checkWebhooks validates the webhooks section and fills in its defaults.
func checkWebhooks(b *Bot, f webhooksFile, bad func(path, format string, args ...any)) {
	w := Webhooks{Debounce: 2 * time.Second, MaxBodyBytes: 1 << 20}
	if f.Debounce != "" {
		d, err := ParseDuration(f.Debounce)
		switch {
		case err != nil:
			bad("webhooks.debounce", "%v", err)
		case d > 10*time.Minute:
			bad("webhooks.debounce", "%s is longer than 10m; an event should start its pass within seconds", f.Debounce)
		default:
			w.Debounce = d
		}
	}
	switch {
	case f.MaxBodyBytes < 0:
		bad("webhooks.maxBodyBytes", "%d is negative", f.MaxBodyBytes)
	case f.MaxBodyBytes > 0:
		w.MaxBodyBytes = f.MaxBodyBytes
	}
	for _, name := range slices.Sorted(maps.Keys(f.Sources)) {
		at := "webhooks.sources." + name
		if !slices.Contains(WebhookSources, name) {
			bad(at, "%q is not a webhook source: %s", name, orList(WebhookSources))
			continue
		}
		if f.Sources[name].SecretFile == "" {
			bad(at+".secretFile", "is required: every source is authenticated")
			continue
		}
		if w.SecretFiles == nil {
			w.SecretFiles = map[string]string{}
		}
		w.SecretFiles[name] = f.Sources[name].SecretFile
	}
	b.Webhooks = w
}

// Pushgateway configures where run --once pushes its metrics.
type Pushgateway struct {
	// URL is the Pushgateway's base URL; empty means no push.
	URL string
	// Job is the job label of the pushed group. Default "imagebump".
	Job string
}

type pushgatewayFile struct {
	URL string `yaml:"url"`
	Job string `yaml:"job"`
}

// checkPushgateway validates the pushgateway section and fills in its
// default job.
func checkPushgateway(b *Bot, f pushgatewayFile, bad func(path, format string, args ...any)) {
	p := Pushgateway{URL: f.URL, Job: f.Job}
	if p.Job == "" {
		p.Job = "imagebump"
	}
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("pushgateway.url", "%q is not an http or https URL", RedactURL(p.URL))
		case u.User != nil:
			bad("pushgateway.url", "%s carries credentials; they would show in logs", RedactURL(p.URL))
		}
	} else if f.Job != "" {
		bad("pushgateway.job", "has no effect without pushgateway.url")
	}
	b.Pushgateway = p
}
