package config

import (
	"fmt"
	"github.com/imagebump/imagebump/gitwriter/forges"

	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

// fluxRepo is a repository and its ImagePolicy in one document pair.
func fluxRepo(version, ns, name, image, extraRepo string) string {
	return `apiVersion: image.toolkit.fluxcd.io/` + version + `
kind: ImageRepository
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  image: ` + image + `
  interval: 5m
` + extraRepo
}

func TestLoadFlux(t *testing.T) {
	root := filetree.Write(t, map[string]string{
		"clusters/prod/images.yaml": fluxRepo("v1beta2", "flux-system", "podinfo", "ghcr.io/stefanprodan/podinfo", "") + `---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 6.x
---
# a v1 policy ordering by build number, with its own exclusions and digests
` + fluxRepo("v1", "apps", "api", "registry.example.com/acme/api", `  exclusionList: ['^dev-']
  secretRef:
    name: regcred
`) + `---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: api
  namespace: apps
spec:
  imageRepositoryRef:
    name: api
  digestReflectionPolicy: Always
  interval: 10m
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy:
    numerical:
      order: asc
`,
		"clusters/old/images.yml": fluxRepo("v1beta1", "legacy", "ubuntu", "ubuntu", "") + `---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImagePolicy
metadata:
  name: ubuntu
  namespace: legacy
spec:
  imageRepositoryRef:
    name: ubuntu
  policy:
    alphabetical:
      order: DESC
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImagePolicy
metadata:
  name: ubuntu-cross
  namespace: other
spec:
  imageRepositoryRef:
    name: ubuntu
    namespace: shared
  policy:
    alphabetical: {}
---
` + fluxRepo("v1beta1", "shared", "ubuntu", "docker.io/library/ubuntu", `  accessFrom:
    namespaceSelectors:
      - matchLabels: {tenant: a}
`),
		// Not Flux image objects: skipped.
		"apps/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
		"docs/other.yaml":  "apiVersion: image.toolkit.fluxcd.io/v1\nkind: Something\n",
		".imagebump.yaml":  "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: '*'\n",
	})
	ps, err := LoadPolicies(root)
	if err != nil {
		t.Fatalf("LoadPolicies: %v", err)
	}
	type summary struct {
		Name, File string
		Line       int
		Spec       policy.Spec
		PinDigest  bool
		Repository string
		HasHint    bool
	}
	var got []summary
	for _, p := range ps.Policies {
		s := summary{Name: p.Name(), File: p.File, Line: p.Line, Spec: p.Spec(), PinDigest: p.PinDigest, HasHint: p.Hint != ""}
		if p.Flux != nil {
			s.Repository = p.Flux.Repository
		}
		got = append(got, s)
	}
	want := []summary{
		{Name: "apps:api", File: "clusters/prod/images.yaml", Line: 38, PinDigest: true, Repository: "apps/api", HasHint: true,
			Spec: policy.Spec{Name: "apps:api", Image: "registry.example.com/acme/api", Numerical: policy.Asc,
				Filter: &policy.Filter{Pattern: `^main-[a-f0-9]+-(?P<ts>[0-9]+)`, Extract: "$ts"}, Exclude: []string{"^dev-"}}},
		{Name: "flux-system:podinfo", File: "clusters/prod/images.yaml", Line: 13, Repository: "flux-system/podinfo",
			Spec: policy.Spec{Name: "flux-system:podinfo", Image: "ghcr.io/stefanprodan/podinfo", SemVer: "6.x", Exclude: []string{`^.*\.sig$`}}},
		{Name: "legacy:ubuntu", File: "clusters/old/images.yml", Line: 13, Repository: "legacy/ubuntu",
			Spec: policy.Spec{Name: "legacy:ubuntu", Image: "ubuntu", Alphabetical: policy.Desc, Exclude: []string{`^.*\.sig$`}}},
		{Name: "other:ubuntu-cross", File: "clusters/old/images.yml", Line: 25, Repository: "shared/ubuntu",
			Spec: policy.Spec{Name: "other:ubuntu-cross", Image: "docker.io/library/ubuntu", Alphabetical: policy.Asc, Exclude: []string{`^.*\.sig$`}}},
		{Name: "web", File: ".imagebump.yaml", Line: 2,
			Spec: policy.Spec{Name: "web", Image: "ghcr.io/acme/web", SemVer: "*"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"clusters/old/images.yml", "clusters/prod/images.yaml"}, ps.Flux.Files); diff != "" {
		t.Errorf("Flux files (-want +got):\n%s", diff)
	}
	var notes []string
	for _, n := range ps.Flux.Notes {
		notes = append(notes, n.String())
	}
	if diff := cmp.Diff([]string{`clusters/old/images.yml:30: ImagePolicy other/ubuntu-cross: ImageRepository shared/ubuntu's accessFrom namespace selectors are not checked: imagebump reads no Namespace labels`}, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	if h := ps.Lookup("apps:api").Hint; !strings.Contains(h, "secretRef regcred") || !strings.Contains(h, "clusters/prod/images.yaml:") {
		t.Errorf("apps:api hint %q does not name the secretRef and where it is", h)
	}

	// Off by option, and by the root policy file.
	off, err := LoadPolicies(root, WithoutFlux())
	if err != nil {
		t.Fatal(err)
	}
	if len(off.Policies) != 1 || off.Flux != nil {
		t.Errorf("WithoutFlux: %d policies, Flux %v; want only the policy file's", len(off.Policies), off.Flux)
	}
}

func TestLoadFluxOffInRootFile(t *testing.T) {
	objs := fluxRepo("v1", "ns", "a", "ghcr.io/acme/a", "") + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: a, namespace: ns}\nspec:\n  imageRepositoryRef: {name: a}\n  policy: {semver: {range: '*'}}\n"
	for _, tc := range []struct {
		name  string
		root  string
		want  int
		probs []string
	}{
		{"on by default", "policies: []\n", 1, nil},
		{"flux: true", "flux: true\n", 1, nil},
		{"flux: false", "flux: false\n", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, map[string]string{".imagebump.yaml": tc.root, "flux/objs.yaml": objs})
			ps, err := LoadPolicies(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps.Policies) != tc.want {
				t.Errorf("%d policies, want %d", len(ps.Policies), tc.want)
			}
		})
	}
	root := filetree.Write(t, map[string]string{"sub/.imagebump.yaml": "flux: false\n"})
	_, err := LoadPolicies(root)
	if diff := cmp.Diff(`sub/.imagebump.yaml:1: flux is read from the repository's root policy file only`, errString(err)); diff != "" {
		t.Errorf("flux in a nested file (-want +got):\n%s", diff)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestLoadFluxProblems(t *testing.T) {
	pol := func(version, ns, name, spec string) string {
		return "apiVersion: image.toolkit.fluxcd.io/" + version + "\nkind: ImagePolicy\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\nspec:\n" + spec
	}
	repo := fluxRepo("v1", "ns", "web", "ghcr.io/acme/web", "") + "---\n"
	semver := "  imageRepositoryRef:\n    name: web\n  policy:\n    semver:\n      range: '*'\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"missing repository", map[string]string{"f.yaml": pol("v1", "ns", "web", semver)},
			[]string{`f.yaml:8: ImagePolicy ns/web: ImageRepository ns/web is not in the repository`}},
		{"repository in another namespace by default", map[string]string{
			"f.yaml": fluxRepo("v1", "other", "web", "ghcr.io/acme/web", "") + "---\n" + pol("v1", "ns", "web", semver)},
			[]string{`f.yaml:17: ImagePolicy ns/web: ImageRepository ns/web is not in the repository`}},
		{"cross-namespace reference without accessFrom", map[string]string{
			"f.yaml": fluxRepo("v1", "other", "web", "ghcr.io/acme/web", "") + "---\n" + pol("v1", "ns", "web", "  imageRepositoryRef:\n    name: web\n    namespace: other\n  policy:\n    semver:\n      range: '*'\n")},
			[]string{`f.yaml:18: ImagePolicy ns/web: ImageRepository other/web is in another namespace and has no accessFrom, so Flux refuses the reference`}},
		{"unknown policy kind", map[string]string{"f.yaml": repo + pol("v1", "ns", "web", "  imageRepositoryRef:\n    name: web\n  policy:\n    calver: {}\n")},
			[]string{`f.yaml:19: ImagePolicy ns/web: unknown field "calver" in spec.policy (image.toolkit.fluxcd.io/v1)`}},
		{"no policy", map[string]string{"f.yaml": repo + pol("v1", "ns", "web", "  imageRepositoryRef:\n    name: web\n  policy: {}\n")},
			[]string{`f.yaml:18: ImagePolicy ns/web: policy needs one of semver, alphabetical, numerical`}},
		{"a field v1beta1 does not have", map[string]string{"f.yaml": repo + pol("v1beta1", "ns", "web", semver+"  digestReflectionPolicy: Always\n")},
			[]string{`f.yaml:21: ImagePolicy ns/web: unknown field "digestReflectionPolicy" in spec (image.toolkit.fluxcd.io/v1beta1)`}},
		{"bad range", map[string]string{"f.yaml": repo + pol("v1beta2", "ns", "web", "  imageRepositoryRef:\n    name: web\n  policy:\n    semver:\n      range: '1.0.0p'\n")},
			[]string{`f.yaml:20: ImagePolicy ns/web: spec.policy.semver.range: range "1.0.0p": improper constraint: "1.0.0p"`}},
		{"bad order", map[string]string{"f.yaml": repo + pol("v1", "ns", "web", "  imageRepositoryRef:\n    name: web\n  policy:\n    numerical:\n      order: up\n")},
			[]string{`f.yaml:20: ImagePolicy ns/web: spec.policy.numerical.order: "up" is not asc or desc`}},
		{"bad pattern", map[string]string{"f.yaml": repo + pol("v1", "ns", "web", semver+"  filterTags:\n    pattern: '(('\n")},
			[]string{"f.yaml:22: ImagePolicy ns/web: spec.filterTags.pattern: error parsing regexp: missing closing ): `((`"}},
		{"bad exclusion, at the repository", map[string]string{"f.yaml": fluxRepo("v1", "ns", "web", "ghcr.io/acme/web", "  exclusionList: ['ok', '((']\n") + "---\n" + pol("v1", "ns", "web", semver)},
			[]string{"f.yaml:9: ImageRepository ns/web: exclusionList[1]: error parsing regexp: missing closing ): `((`"}},
		{"bad image", map[string]string{"f.yaml": fluxRepo("v1", "ns", "web", "ghcr.io/acme/web:1.0", "") + "---\n" + pol("v1", "ns", "web", semver)},
			[]string{`f.yaml:7: ImageRepository ns/web: image: "ghcr.io/acme/web:1.0" must be a repository without tag or digest`}},
		{"unknown apiVersion", map[string]string{"f.yaml": "apiVersion: image.toolkit.fluxcd.io/v1alpha1\nkind: ImagePolicy\nmetadata: {name: a, namespace: b}\n"},
			[]string{`f.yaml:1: ImagePolicy: apiVersion image.toolkit.fluxcd.io/v1alpha1: imagebump reads image.toolkit.fluxcd.io/v1beta1, v1beta2 and v1`}},
		{"no namespace", map[string]string{"f.yaml": "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: a\nspec: {}\n"},
			[]string{`f.yaml:3: ImagePolicy a: metadata.namespace is not set; imagebump names Flux policies namespace:name and does not read the namespace a kustomization would give it: write it here (or ignore Flux objects: flux: false in the root .imagebump.yaml)`}},
		{"does not parse", map[string]string{"f.yaml": "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: [\n"},
			[]string{`f.yaml:4:1: did not find expected node content`}},
		{"same name in a policy file", map[string]string{
			".imagebump.yaml": "policies:\n  - name: ns:web\n    image: ghcr.io/acme/web\n    semver: '*'\n",
			"f.yaml":          repo + pol("v1", "ns", "web", semver)},
			[]string{`f.yaml:13: policy "ns:web" is defined twice: here and at .imagebump.yaml:2`}},
		{"ImageRepository defined twice", map[string]string{"a.yaml": repo, "b.yaml": repo + pol("v1", "ns", "web", semver)},
			[]string{`b.yaml:4: ImageRepository ns/web: defined twice: here and at a.yaml:4`}},
		{"two automations", map[string]string{"f.yaml": automation("a", "") + "---\n" + automation("b", "")},
			[]string{`f.yaml:22: ImageUpdateAutomation flux-system/b: imagebump follows one ImageUpdateAutomation per repository, and flux-system/a at f.yaml:4 is another; suspend or remove all but one`}},

		{"bad message template", map[string]string{"f.yaml": automation("a", "      messageTemplate: '{{ .Changed'\n")},
			[]string{`f.yaml:16: ImageUpdateAutomation flux-system/a: git.commit.messageTemplate: template: commit message:1: unclosed action`}},
		{"update path outside", map[string]string{"f.yaml": strings.Replace(automation("a", ""), "path: ./apps", "path: ../x", 1)},
			[]string{`f.yaml:17: ImageUpdateAutomation flux-system/a: update.path "../x" leaves the repository`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, tc.files)
			ps, err := LoadPolicies(root)
			var problems problem.List
			if !errors.As(err, &problems) {
				t.Fatalf("LoadPolicies = %v, %v; want problems", ps, err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// automation is an ImageUpdateAutomation in flux-system, commit holding
// extra lines of spec.git.commit.
func automation(name, commit string) string {
	return `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: ` + name + `
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    commit:
      author:
        name: fluxcdbot
        email: fluxcdbot@users.noreply.github.com
` + commit + `  update:
    path: ./apps
`
}

func TestLoadFluxAutomation(t *testing.T) {
	policyDoc := func(ns, name string, labels string) string {
		return fluxRepo("v1", ns, name, "ghcr.io/acme/"+name, "") + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\n  labels: " + labels + "\nspec:\n  imageRepositoryRef: {name: " + name + "}\n  policy: {semver: {range: '*'}}\n"
	}
	policies := policyDoc("flux-system", "web", "{auto: 'yes'}") + "---\n" + policyDoc("flux-system", "api", "{}") + "---\n" + policyDoc("team", "db", "{auto: 'yes'}")
	gitRepo := "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec:\n  ref: {branch: production}\n  url: https://example.com/fleet\n"

	tests := []struct {
		name     string
		auto     string
		want     Automation
		inactive map[string]string
	}{
		{
			name: "all fields",
			auto: strings.Replace(automation("auto", `      signingKey:
        secretRef: {name: gpg}
      messageTemplate: 'x'
    checkout:
      ref: {branch: main}
    push:
      branch: image-updates
`), "  update:", "  policySelector:\n    matchLabels: {auto: 'yes'}\n  update:", 1),
			want: Automation{Namespace: "flux-system", Name: "auto", File: "clusters/auto.yaml", Line: 4,
				CheckoutBranch: "main", PushBranch: "image-updates", AuthorName: "fluxcdbot", AuthorEmail: "fluxcdbot@users.noreply.github.com",
				SigningKeySecret: "gpg", Path: "apps"},
			inactive: map[string]string{
				"flux-system:api": "ImageUpdateAutomation flux-system/auto's policySelector does not select it",
				"team:db":         "ImageUpdateAutomation flux-system/auto applies the ImagePolicies of namespace flux-system only",
			},
		},
		{
			name: "checkout from the GitRepository",
			auto: automation("auto", ""),
			want: Automation{Namespace: "flux-system", Name: "auto", File: "clusters/auto.yaml", Line: 4,
				CheckoutBranch: "production", AuthorName: "fluxcdbot", AuthorEmail: "fluxcdbot@users.noreply.github.com", Path: "apps"},
			inactive: map[string]string{"team:db": "ImageUpdateAutomation flux-system/auto applies the ImagePolicies of namespace flux-system only"},
		},
		{
			name: "matchExpressions",
			auto: strings.Replace(automation("auto", ""), "  update:", "  policySelector:\n    matchExpressions:\n      - {key: auto, operator: DoesNotExist}\n  update:", 1),
			want: Automation{Namespace: "flux-system", Name: "auto", File: "clusters/auto.yaml", Line: 4,
				CheckoutBranch: "production", AuthorName: "fluxcdbot", AuthorEmail: "fluxcdbot@users.noreply.github.com", Path: "apps"},
			inactive: map[string]string{
				"flux-system:web": "ImageUpdateAutomation flux-system/auto's policySelector does not select it",
				"team:db":         "ImageUpdateAutomation flux-system/auto applies the ImagePolicies of namespace flux-system only",
			},
		},
		{
			name: "checkout by tag",
			auto: automation("auto", "    checkout:\n      ref: {tag: v1}\n"),
			want: Automation{Namespace: "flux-system", Name: "auto", File: "clusters/auto.yaml", Line: 4,
				AuthorName: "fluxcdbot", AuthorEmail: "fluxcdbot@users.noreply.github.com", Path: "apps",
				Unsupported: problem.List{{File: "clusters/auto.yaml", Line: 17, Message: "ImageUpdateAutomation flux-system/auto: a checkout by tag, semver, name or commit: imagebump commits on a branch"}}},
			inactive: map[string]string{"team:db": "ImageUpdateAutomation flux-system/auto applies the ImagePolicies of namespace flux-system only"},
		},
		{
			name: "suspended, with what cannot map",
			auto: strings.Replace(automation("auto", "    push:\n      refspec: refs/heads/auto:refs/heads/main\n      options: {topic: x}\n"), "  update:", "  suspend: true\n  update:", 1),
			want: Automation{Namespace: "flux-system", Name: "auto", File: "clusters/auto.yaml", Line: 4,
				CheckoutBranch: "production", AuthorName: "fluxcdbot", AuthorEmail: "fluxcdbot@users.noreply.github.com", Path: "apps", Suspend: true,
				Unsupported: problem.List{
					{File: "clusters/auto.yaml", Line: 17, Message: `ImageUpdateAutomation flux-system/auto: git.push.refspec "refs/heads/auto:refs/heads/main": imagebump pushes one branch; only a refspec that pushes the commit to a branch (HEAD:refs/heads/NAME) maps`},
					{File: "clusters/auto.yaml", Line: 18, Message: `ImageUpdateAutomation flux-system/auto: git.push.options: imagebump sends no push options`},
				}},
			inactive: map[string]string{
				"flux-system:web": "ImageUpdateAutomation flux-system/auto is suspended",
				"flux-system:api": "ImageUpdateAutomation flux-system/auto is suspended",
				"team:db":         "ImageUpdateAutomation flux-system/auto is suspended",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, map[string]string{
				"clusters/auto.yaml":   tc.auto,
				"clusters/images.yaml": policies,
				"clusters/sync.yaml":   gitRepo,
			})
			ps, err := LoadPolicies(root)
			if err != nil {
				t.Fatal(err)
			}
			a := ps.Flux.Automation
			if a == nil {
				t.Fatal("no automation")
			}
			got := *a
			got.message, got.selector = nil, nil
			// Every case updates the GitRepository of clusters/sync.yaml.
			tc.want.Source, tc.want.SourceURL = "flux-system/flux-system", "https://example.com/fleet"
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(Automation{})); diff != "" {
				t.Errorf("automation (-want +got):\n%s", diff)
			}
			inactive := map[string]string{}
			for _, p := range ps.Policies {
				if p.Inactive != "" {
					inactive[p.Name()] = p.Inactive
				}
			}
			if diff := cmp.Diff(tc.inactive, inactive); diff != "" {
				t.Errorf("inactive policies (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadFluxAutomationForRepository checks ForRepository: in a fleet
// repository holding the ImageUpdateAutomations of other repositories,
// only the one whose GitRepository is this repository is followed; the
// others are passed over with a note, and one of them does not make the
// repository invalid as a second automation would.
func TestLoadFluxAutomationForRepository(t *testing.T) {
	source := func(name, url string) string {
		return "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: " + name + ", namespace: flux-system}\nspec:\n  ref: {branch: main}\n  url: " + url + "\n"
	}
	auto := func(name, src string) string {
		return strings.Replace(automation(name, ""), "name: flux-system\n", "name: "+src+"\n", 1)
	}
	files := map[string]string{
		"clusters/sync.yaml":   source("fleet", "ssh://git@github.com/acme/fleet.git") + "---\n" + source("app", "https://github.com/acme/app"),
		"clusters/fleet.yaml":  auto("fleet-auto", "fleet"),
		"clusters/app.yaml":    auto("app-auto", "app"),
		"clusters/images.yaml": fluxRepo("v1", "flux-system", "web", "ghcr.io/acme/web", ""),
	}
	for _, tc := range []struct {
		name, url string
		want      string // the automation followed; "" for none
		notes     []string
		invalid   bool
	}{
		{name: "this repository's, in another URL form", url: "https://github.com/Acme/fleet", want: "flux-system/fleet-auto",
			notes: []string{"clusters/app.yaml:4: ImageUpdateAutomation flux-system/app-auto updates GitRepository flux-system/app (https://github.com/acme/app), not this repository: imagebump passes it over here"}},
		{name: "the other one's", url: "git@github.com:acme/app.git", want: "flux-system/app-auto",
			notes: []string{"clusters/fleet.yaml:4: ImageUpdateAutomation flux-system/fleet-auto updates GitRepository flux-system/fleet (ssh://git@github.com/acme/fleet.git), not this repository: imagebump passes it over here"}},
		{name: "neither", url: "https://github.com/acme/third", notes: []string{
			"clusters/app.yaml:4: ImageUpdateAutomation flux-system/app-auto updates GitRepository flux-system/app (https://github.com/acme/app), not this repository: imagebump passes it over here",
			"clusters/fleet.yaml:4: ImageUpdateAutomation flux-system/fleet-auto updates GitRepository flux-system/fleet (ssh://git@github.com/acme/fleet.git), not this repository: imagebump passes it over here",
		}},
		{name: "not told the repository", invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, files)
			var opts []LoadOption
			if tc.url != "" {
				opts = append(opts, ForRepository(tc.url))
			}
			ps, err := LoadPolicies(root, opts...)
			if tc.invalid {
				if err == nil || !strings.Contains(err.Error(), "imagebump follows one ImageUpdateAutomation per repository") {
					t.Errorf("LoadPolicies = %v, want the two automations refused", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if a := ps.Flux.Auto(); a != nil {
				got = a.String()
			}
			if got != tc.want {
				t.Errorf("automation followed %q, want %q", got, tc.want)
			}
			var notes []string
			for _, n := range ps.Flux.Notes {
				if strings.Contains(n.Message, "GitRepository") {
					notes = append(notes, fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Message))
				}
			}
			if diff := cmp.Diff(tc.notes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadBotFluxSwitch(t *testing.T) {
	for _, tc := range []struct {
		line   string
		noFlux bool
	}{{"", false}, {"    flux: true\n", false}, {"    flux: false\n", true}} {
		b, err := LoadBot(writeConfig(t, "schedule: '@every 5m'\nrepositories:\n  - url: https://github.com/acme/fleet\n"+tc.line), forges.All())
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Repositories[0].NoFlux; got != tc.noFlux {
			t.Errorf("%q: NoFlux = %v, want %v", tc.line, got, tc.noFlux)
		}
	}
}

func TestRefspecBranch(t *testing.T) {
	tests := []struct {
		refspec, push, checkout string
		want                    string
		ok                      bool
	}{
		{"HEAD:refs/heads/auto", "", "main", "auto", true},
		{"refs/heads/main:refs/heads/auto", "", "main", "auto", true},
		{"refs/heads/auto:refs/heads/auto", "auto", "main", "auto", true},
		// Flux's Gerrit example: push to auto, then auto to main: two places.
		{"refs/heads/auto:refs/heads/main", "auto", "main", "", false},
		{"refs/heads/flux-updates:refs/for/main", "flux-updates", "main", "", false},
		{"HEAD:refs/for/main", "", "main", "", false},
		{"+HEAD:refs/heads/auto", "", "main", "", false},
		{"refs/heads/other:refs/heads/auto", "", "main", "", false},
		{"auto", "", "main", "", false},
	}
	for _, tc := range tests {
		got, ok := refspecBranch(tc.refspec, tc.push, tc.checkout)
		if got != tc.want || ok != tc.ok {
			t.Errorf("refspecBranch(%q, %q, %q) = %q, %v; want %q, %v", tc.refspec, tc.push, tc.checkout, got, ok, tc.want, tc.ok)
		}
	}
}

// TestLoadFluxNotes checks what is said without making the repository
// invalid.
func TestLoadFluxNotes(t *testing.T) {
	pol := "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: web, namespace: ns}\nspec:\n  imageRepositoryRef: {name: web}\n  policy: {semver: {range: '*'}}\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"insecure", map[string]string{"f.yaml": fluxRepo("v1", "ns", "web", "ghcr.io/acme/web", "  insecure: true\n") + pol},
			[]string{"f.yaml:9: ImageRepository ns/web: insecure: mark the registry's host insecure on the bot's side (--insecure-registry HOST or registries.hosts[].insecure); loopback hosts need nothing"}},
		{"a template", map[string]string{
			"f.yaml":                   fluxRepo("v1", "ns", "web", "ghcr.io/acme/web", "") + pol,
			"chart/templates/pol.yaml": "{{- range .Values.images }}\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: {{ .name }}}\n{{- end }}\n"},
			[]string{"chart/templates/pol.yaml: mentions image.toolkit.fluxcd.io but is not valid YAML (a template?); its objects are not read"}},
		{"a Helm chart's template", map[string]string{
			"f.yaml":                      fluxRepo("v1", "ns", "web", "ghcr.io/acme/web", "") + pol,
			"charts/app/Chart.yaml":       "name: app\n",
			"charts/app/templates/p.yaml": "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: app\n  namespace: '{{ .Release.Namespace }}'\n"},
			[]string{"charts/app/templates/p.yaml: a Helm chart template mentions image.toolkit.fluxcd.io; Flux reads what the chart renders, imagebump does not render charts, so its objects are not read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := LoadPolicies(filetree.Write(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range ps.Flux.Notes {
				got = append(got, n.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadFluxLargeManifest: a manifest above maxFluxFile is not read
// whole; one that never mentions Flux's API groups (a CRD bundle) is no
// problem, one that does is, wherever the mention lies, even across a
// 64 KiB read.
func TestLoadFluxLargeManifest(t *testing.T) {
	filler := strings.Repeat("# padding line of a large manifest\n", maxFluxFile/35+4000)
	tests := []struct {
		name    string
		content string
		problem bool
	}{
		{"no Flux group", filler + "kind: CustomResourceDefinition\n", false},
		{"Flux group past the bound", filler + "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n", true},
		{"Flux group across a read", filler[:maxFluxFile+64<<10-10] + "apiVersion: source.toolkit.fluxcd.io/v1\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, map[string]string{"big.yaml": tc.content})
			_, err := LoadPolicies(root)
			if got := err != nil; got != tc.problem {
				t.Fatalf("LoadPolicies error = %v, want a problem: %v", err, tc.problem)
			}
			if tc.problem && !strings.Contains(err.Error(), "big.yaml") {
				t.Errorf("the problem %q does not name the file", err)
			}
		})
	}
}
