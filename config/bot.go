package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v4"

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
	// Forge is the API that serves the repository's pull requests: named
	// by a github, gitlab or gitea section, or inferred from the host for
	// github.com and gitlab.com. Empty only in push mode, which needs none.
	Forge Forge
	// APIURL is the forge's API root: empty for api.github.com, else as
	// configured (https://gitlab.com/api/v4 when inferred for gitlab.com).
	APIURL string
	// Owner and Name are the repository's owner and name, from the URL
	// path. On GitLab, Owner is the whole namespace (group/sub), so
	// Owner/Name is the project path.
	Owner, Name string
	// Line is where the entry starts in the config file.
	Line int
}

// Auth holds file paths of a repository's credentials. The files are read
// when used, so rotated secrets are picked up; they are never logged.
type Auth struct {
	TokenFile      string
	SSHKeyFile     string
	KnownHostsFile string
}

// Forge names the kind of server that hosts a repository's pull requests.
type Forge string

// Forges imagebump opens pull (or merge) requests on.
const (
	GitHub Forge = "github" // github.com or GitHub Enterprise
	GitLab Forge = "gitlab" // gitlab.com or self-managed GitLab
	Gitea  Forge = "gitea"  // Gitea or Forgejo
)

// gitLabComAPI is the API root inferred for gitlab.com repositories.
const gitLabComAPI = "https://gitlab.com/api/v4"

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
	// the docker config has no credentials for it: aws, gcp, or auto (by
	// the host's name); empty for none.
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
	Auth       struct {
		TokenFile      string `yaml:"tokenFile"`
		SSHKeyFile     string `yaml:"sshKeyFile"`
		KnownHostsFile string `yaml:"knownHostsFile"`
	} `yaml:"auth"`
	// A section that is present names the forge, even with an empty
	// apiURL, hence the pointers.
	GitHub *forgeFile `yaml:"github"`
	GitLab *forgeFile `yaml:"gitlab"`
	Gitea  *forgeFile `yaml:"gitea"`
}

type forgeFile struct {
	APIURL string `yaml:"apiURL"`
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

// LoadBot reads and validates the bot config file at path. The file is
// decoded strictly: an unknown field is an error. When anything is invalid
// the error is Problems, each with the line it is about. ${NAME} in string
// values is replaced by the environment variable NAME; a reference to an
// unset variable is a problem.
func LoadBot(path string) (*Bot, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bot config: %w", err)
	}
	return parseBot(path, src, false)
}

// LoadRegistries reads the registries section of the bot config file at
// path, for commands that use the file for nothing else (plan, apply and
// tags --config): a file with only registries: is enough. The whole file is
// still decoded strictly, so an unknown field anywhere is a problem with its
// line, but only the registries section is required to be valid.
func LoadRegistries(path string) (*Registries, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bot config: %w", err)
	}
	b, err := parseBot(path, src, true)
	if err != nil {
		return nil, err
	}
	return &b.Registries, nil
}

// parseBot decodes and validates a bot config; with registriesOnly, only
// its registries section is checked and returned.
func parseBot(file string, src []byte, registriesOnly bool) (*Bot, error) {
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
	// document with ${NAME} references expanded.
	var f botFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, decodeProblems(file, err)
	}
	var problems problem.List
	secrets := map[string]string{} // expanded value → the ${NAME} it came from
	expand := &doc
	if registriesOnly {
		// References elsewhere are not used, so an unset one is no problem.
		expand = valueOf(doc.Content[0], "registries")
	}
	if expand != nil {
		expandEnv(expand, file, secrets, &problems)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	f = botFile{}
	if err := doc.Decode(&f); err != nil {
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
		checkRun(b, f, line, bad)
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
		case "", "aws", "gcp", "auto":
		case "azure":
			bad(at+".provider", "azure is not supported yet (aws, gcp, auto are); give an ACR token in the docker config")
		default:
			bad(at+".provider", "%q: want aws, gcp or auto", h.Provider)
		}
		b.Registries.Hosts = append(b.Registries.Hosts, RegistryHost(h))
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
func checkRun(b *Bot, f botFile, line func(path string) int, bad func(path, format string, args ...any)) {
	if b.Schedule == "" {
		bad("schedule", "is required, e.g. \"*/10 * * * *\" or \"@every 10m\"")
	} else if s, err := cronParser.Parse(b.Schedule); err != nil {
		bad("schedule", "%q: %v", b.Schedule, err)
	} else {
		b.Cron = s
	}
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
			Line: line(at),
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
		forgeOK := checkForge(&repo, r, at, bad)
		if repo.URL == "" {
			bad(at+".url", "is required")
		} else if owner, name, err := repoPath(repo.URL, repo.Forge, repo.APIURL); err != nil {
			bad(at+".url", "%v", err)
		} else {
			repo.Owner, repo.Name = owner, name
			if forgeOK && repo.Forge == "" && repo.Mode == PullRequest {
				bad(at, "pull request mode on host %s: name its forge: github, gitlab or gitea with apiURL", hostOf(repo.URL))
			}
			if prev, dup := seen[repo.URL+"#"+repo.Branch]; dup {
				bad(at+".url", "%s (branch %s) is also repositories[%d]", displayURL(repo.URL), repo.Branch, prev)
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
			bad(at+".auth.sshKeyFile", "needs an ssh URL, not %s", displayURL(repo.URL))
		}
		b.Repositories = append(b.Repositories, repo)
	}
}

// checkForge sets repo's Forge and APIURL from the github, gitlab or gitea
// section of r, or infers them from the host. It reports false when a
// section is wrong, so no second problem is added about the forge.
func checkForge(repo *Repository, r repositoryFile, at string, bad func(path, format string, args ...any)) bool {
	type section struct {
		forge Forge
		f     *forgeFile
	}
	var set []section
	for _, s := range []section{{GitHub, r.GitHub}, {GitLab, r.GitLab}, {Gitea, r.Gitea}} {
		if s.f != nil {
			set = append(set, s)
		}
	}
	host := hostOf(repo.URL)
	switch len(set) {
	case 0:
		switch host {
		case "github.com":
			repo.Forge = GitHub
		case "gitlab.com":
			repo.Forge, repo.APIURL = GitLab, gitLabComAPI
		}
		return true
	case 1:
	default:
		bad(fmt.Sprintf("%s.%s", at, set[1].forge), "a repository has one forge: keep one of %s and %s", set[0].forge, set[1].forge)
		return false
	}
	s := set[0]
	field := fmt.Sprintf("%s.%s.apiURL", at, s.forge)
	repo.Forge, repo.APIURL = s.forge, s.f.APIURL
	if u := s.f.APIURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			bad(field, "%q is not an http(s) URL", displayURL(u))
			return false
		}
		if pu.User != nil {
			bad(field, "%q holds credentials; the token comes from auth.tokenFile", displayURL(u))
			return false
		}
		return true
	}
	switch {
	case s.forge == GitHub && (host == "github.com" || host == ""):
		// api.github.com
	case s.forge == GitLab && (host == "gitlab.com" || host == ""):
		repo.APIURL = gitLabComAPI
	case s.forge == GitHub:
		bad(field, "is required for host %s (GitHub Enterprise: https://%s/api/v3/)", host, host)
		return false
	case s.forge == GitLab:
		bad(field, "is required for host %s, e.g. https://%s/api/v4", host, host)
		return false
	default:
		bad(field, "is required, e.g. https://%s", host)
		return false
	}
	return true
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
func repoPath(raw string, forge Forge, apiURL string) (owner, name string, err error) {
	var path string
	if u, perr := url.Parse(raw); perr == nil && u.Scheme != "" && u.Host != "" {
		switch u.Scheme {
		case "https", "http", "ssh", "file":
		default:
			return "", "", fmt.Errorf("%q: scheme %s is not https, ssh or http", displayURL(raw), u.Scheme)
		}
		if u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				return "", "", fmt.Errorf("the URL holds a password; use auth.tokenFile")
			}
		}
		path = u.Path
		if forge == GitLab && (u.Scheme == "https" || u.Scheme == "http") {
			if prefix := gitLabPrefix(apiURL); prefix != "" && strings.HasPrefix(path, prefix+"/") {
				path = path[len(prefix):]
			}
		}
	} else if at, rest, ok := strings.Cut(raw, ":"); ok && strings.Contains(at, "@") && !strings.Contains(at, "/") {
		path = rest // scp-like git@github.com:OWNER/REPO.git
	} else {
		return "", "", fmt.Errorf("%q is not a git URL (https://HOST/OWNER/REPO.git, ssh://…, or git@HOST:OWNER/REPO.git)", displayURL(raw))
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(path, ".git"), "/"), "/")
	if forge == GitLab {
		if len(parts) < 2 || slices.Contains(parts, "") {
			return "", "", fmt.Errorf("%q: the path must be GROUP/…/PROJECT", displayURL(raw))
		}
		return strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1], nil
	}
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", fmt.Errorf("%q: the path must end in OWNER/REPO", displayURL(raw))
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}

// gitLabPrefix is the relative URL root of a GitLab API URL: "/gitlab" for
// https://HOST/gitlab/api/v4, "" for most.
func gitLabPrefix(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	prefix, _, ok := strings.Cut(u.Path, "/api/v4")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(prefix, "/")
}

// displayURL is a URL fit for a message: user information other than
// ssh's customary "git" user, which can carry a token, is replaced.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.User.String() == "git" {
		return raw
	}
	u.User = url.User("REDACTED")
	return u.String()
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
