package test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList returns the import paths `go list -f FORMAT PKG` prints.
func goList(t *testing.T, format, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", format, pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// stdlib reports whether an import path belongs to the standard library:
// its first element has no dot.
func stdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestImports enforces the layering of DESIGN.md: what each library package
// may import directly.
func TestImports(t *testing.T) {
	const mod = "github.com/imagebump/imagebump/"
	tests := []struct {
		pkg     string
		allowed []string // prefixes of allowed non-standard imports
	}{
		// problem is the one Problem type every layer reports with.
		{"problem", nil},
		{"policy", []string{"github.com/Masterminds/semver/v3"}},
		{"patcher", []string{mod + "problem", "sigs.k8s.io/kustomize/kyaml", "go.yaml.in/yaml/v3"}},
		// go-containerregistry's name package parses policy images
		// strictly (issue 12); nothing else of that module.
		// config validates forge sections and pull request settings
		// against the forge table, whose types (gitwriter/forge, and the
		// lifecycle's Settings) do no I/O; never a forge client. Sprig
		// renders Flux commit message templates as Flux does (its hermetic
		// functions only).
		{"config", []string{mod + "problem", mod + "policy", mod + "gitwriter/forge", mod + "gitwriter/pullrequest", "go.yaml.in/yaml/v4", "sigs.k8s.io/kustomize/kyaml", "github.com/robfig/cron/v3", "github.com/google/go-containerregistry/pkg/name", "github.com/Masterminds/sprig/v3"}},
		// docker/cli's config package is what go-containerregistry's own
		// default keychain uses; registry imports it to read a config file
		// from an explicit path, which the keychain cannot be pointed at.
		// docker-credential-helpers' client (docker/cli's own) runs
		// credential helpers with errors that never echo their output.
		// amazon-ecr-credential-helper's library gets ECR tokens from the
		// pod's AWS identity (registries.hosts[].provider: aws);
		// azidentity (and azcore, its types) the Entra ID token of the
		// pod's Azure identity (provider: azure).
		{"registry", []string{"github.com/google/go-containerregistry", "github.com/docker/cli/cli/config", "github.com/docker/docker-credential-helpers", "golang.org/x/sync", "golang.org/x/time/rate", "github.com/awslabs/amazon-ecr-credential-helper/ecr-login", "github.com/Azure/azure-sdk-for-go/sdk/azidentity", "github.com/Azure/azure-sdk-for-go/sdk/azcore"}},
		// gitwriter speaks git through go-git alone (no git binary in the
		// image) and signs with the OpenPGP library go-git's signing uses;
		// the bot maps its config onto gitwriter.Options. go-billy is
		// go-git's own file system type, which its storage constructor
		// (with the large-object option) and CloneContext take.
		{"gitwriter", []string{"github.com/go-git/go-git/v5", "github.com/go-git/go-billy/v5", "github.com/ProtonMail/go-crypto", "golang.org/x/crypto/ssh"}},
		// The pull-request lifecycle is forge-neutral and pure apart from
		// its two interfaces; each forge is one client library on top.
		{"gitwriter/pullrequest", nil},
		// The forge table's types, and the HTTP helper the clients share.
		{"gitwriter/forge", []string{mod + "gitwriter/pullrequest"}},
		{"gitwriter/forge/rest", nil},
		{"gitwriter/github", []string{mod + "gitwriter/pullrequest", mod + "gitwriter/forge", mod + "gitwriter/forge/rest", "github.com/google/go-github/v60"}},
		{"gitwriter/gitlab", []string{mod + "gitwriter/pullrequest", mod + "gitwriter/forge", mod + "gitwriter/forge/rest", "gitlab.com/gitlab-org/api/client-go"}},
		{"gitwriter/gitea", []string{mod + "gitwriter/pullrequest", mod + "gitwriter/forge", mod + "gitwriter/forge/rest", "code.gitea.io/sdk/gitea"}},
		// The table of forges: the one package that imports every client.
		{"gitwriter/forges", []string{mod + "gitwriter/forge", mod + "gitwriter/github", mod + "gitwriter/gitlab", mod + "gitwriter/gitea"}},
		// bot is everything above but the forge clients, which it reaches
		// through the forge.Kind config stored (TestBotKnowsNoForge); it
		// must not reach into cmd.
		{"bot", []string{"github.com/robfig/cron/v3", mod + "problem", mod + "config", mod + "policy", mod + "registry", mod + "patcher", mod + "gitwriter", mod + "gitwriter/pullrequest", mod + "gitwriter/forge", mod + "bot/webhook", "golang.org/x/sync"}},
		// webhook reads notifications: pure parsing and checking.
		{"bot/webhook", nil},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			for _, imp := range goList(t, `{{join .Imports " "}}`, mod+tc.pkg) {
				if stdlib(imp) || slices.ContainsFunc(tc.allowed, func(a string) bool { return allows(a, imp) }) {
					continue
				}
				t.Errorf("%s imports %s; DESIGN.md allows only the standard library and %v", tc.pkg, imp, tc.allowed)
			}
		})
	}
}

// allows reports whether an allowed entry admits imp: a package of this
// module only itself (gitwriter does not admit gitwriter/github), another
// module's path every package under it.
func allows(allowed, imp string) bool {
	const mod = "github.com/imagebump/imagebump/"
	if strings.HasPrefix(allowed, mod) {
		return imp == allowed
	}
	return strings.HasPrefix(imp, allowed)
}

// TestBotKnowsNoForge checks that nothing bot depends on, directly or not,
// is a forge client, the table that lists them (gitwriter/forges) or a
// forge's API library: a new forge is its package and its table entry,
// never an edit of bot. The clients are found from what gitwriter/forges
// imports, so one added there is covered without editing this test.
func TestBotKnowsNoForge(t *testing.T) {
	const mod = "github.com/imagebump/imagebump/"
	forbidden := map[string]bool{mod + "gitwriter/forges": true, mod + "gitwriter/forge/rest": true}
	clients := 0
	for _, imp := range goList(t, `{{join .Imports " "}}`, mod+"gitwriter/forges") {
		if strings.HasPrefix(imp, mod) && imp != mod+"gitwriter/forge" {
			forbidden[imp] = true
			clients++
			// The client's own API library, too.
			for _, lib := range goList(t, `{{join .Imports " "}}`, imp) {
				if !stdlib(lib) && !strings.HasPrefix(lib, mod) {
					forbidden[lib] = true
				}
			}
		}
	}
	if clients < 3 {
		t.Fatalf("gitwriter/forges imports %d forge clients, want GitHub, GitLab and Gitea at least", clients)
	}
	for _, dep := range goList(t, `{{join .Deps " "}}`, mod+"bot") {
		if forbidden[dep] {
			t.Errorf("bot depends on %s; it must reach forges through config.Repository.Forge only", dep)
		}
	}
}

// TestGitwriterStandsAlone checks that nothing gitwriter depends on,
// directly or not, is another package of the module: config and bot above
// all, which would turn the import arrows around.
func TestGitwriterStandsAlone(t *testing.T) {
	const mod = "github.com/imagebump/imagebump/"
	for _, dep := range goList(t, `{{join .Deps " "}}`, mod+"gitwriter") {
		if strings.HasPrefix(dep, mod) {
			t.Errorf("gitwriter depends on %s", dep)
		}
	}
}

// TestNoNetwork checks that policy, config and the pull-request lifecycle
// (which reaches forges only through its interfaces) cannot do network I/O:
// nothing they depend on, directly or not, is a network package. patcher is
// held to its direct imports by TestImports only: kyaml itself links
// net/http through its OpenAPI packages. config may link package net, which
// go-containerregistry's name package imports to parse IP addresses, but
// nothing that speaks HTTP or TLS.
func TestNoNetwork(t *testing.T) {
	const mod = "github.com/imagebump/imagebump/"
	for _, pkg := range []string{"problem", "policy", "config", "gitwriter/pullrequest", "gitwriter/forge"} {
		t.Run(pkg, func(t *testing.T) {
			for _, dep := range goList(t, `{{join .Deps " "}}`, mod+pkg) {
				if dep == "net" && pkg == "config" {
					continue
				}
				if dep == "net" || strings.HasPrefix(dep, "net/http") || dep == "crypto/tls" {
					t.Errorf("%s depends on %s, a network package", pkg, dep)
				}
			}
		})
	}
}
