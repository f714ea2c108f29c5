package test

import (
	"strings"
	"testing"
)

// fluxFleet is a repository holding only Flux objects and markers: an
// ImageRepository and ImagePolicy for the registry's acme/web, and an
// ImageUpdateAutomation whose git and update settings are automation.
func fluxFleet(w *runWorld, automation string) {
	image := w.reg.Repo("acme/web")
	marked := func(tag string) string {
		return strings.ReplaceAll(deployment(image+":"+tag), `"$imagepolicy": "web"`, `"$imagepolicy": "flux-system:web"`)
	}
	w.url = w.git.NewRepo(w.t, runRepo, map[string]string{
		"clusters/prod/images.yaml": `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: ` + image + `
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: web
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: web
  policy:
    semver:
      range: ^1
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
` + automation,
		"apps/web/deployment.yaml": marked("1.4.2"),
		// Outside update.path: Flux does not write here.
		"staging/web/deployment.yaml": marked("1.4.2"),
	})
}

// TestRunFluxAutomation runs the bot on a repository whose only
// instructions are Flux's: the ImageUpdateAutomation's push branch, author,
// message template and update path decide what is committed where.
func TestRunFluxAutomation(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0", "2.0.0")
	fluxFleet(w, `  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        name: fluxcdbot
        email: fluxcdbot@users.noreply.github.com
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'
    push:
      branch: image-updates
  update:
    path: ./apps
    strategy: Setters
`)
	mainBefore := w.git.Ref(t, runRepo, "refs/heads/main")
	staging := w.git.ReadFile(t, runRepo, "main", "staging/web/deployment.yaml")
	apps := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml")

	out := w.once(w.config("push", ""))
	if out.code != 0 {
		t.Fatalf("pass: exit %d\n%s", out.code, out.stderr)
	}
	if now := w.git.Ref(t, runRepo, "refs/heads/main"); now != mainBefore {
		t.Errorf("main moved from %s to %s; the automation pushes to image-updates", mainBefore, now)
	}
	if got, want := w.git.ReadFile(t, runRepo, "image-updates", "apps/web/deployment.yaml"), strings.Replace(apps, ":1.4.2 #", ":1.5.0 #", 1); got != want {
		t.Errorf("apps/web/deployment.yaml on image-updates:\n%s\nwant:\n%s", got, want)
	}
	if got := w.git.ReadFile(t, runRepo, "image-updates", "staging/web/deployment.yaml"); got != staging {
		t.Errorf("staging/web/deployment.yaml, outside update.path, changed:\n%s", got)
	}
	log := w.git.Log(t, runRepo, "image-updates")
	c := log[0]
	image := w.reg.Repo("acme/web")
	if c.Author.Email != "fluxcdbot@users.noreply.github.com" || c.Author.Name != "fluxcdbot" {
		t.Errorf("commit author %+v, want the automation's fluxcdbot", c.Author)
	}
	if want := image + ":1.4.2 -> " + image + ":1.5.0"; c.Subject != want || c.Body != "Imagebump-Bot: true" {
		t.Errorf("commit message %q / %q, want the automation's template's %q and the trailer", c.Subject, c.Body, want)
	}

	// A second pass has nothing to do.
	tip := w.git.Ref(t, runRepo, "refs/heads/image-updates")
	if out := w.once(w.config("push", "")); out.code != 0 {
		t.Fatalf("second pass: exit %d\n%s", out.code, out.stderr)
	}
	if now := w.git.Ref(t, runRepo, "refs/heads/image-updates"); now != tip {
		t.Errorf("a pass with nothing new moved image-updates from %s to %s", tip, now)
	}
}

// TestRunFluxAutomationRefused checks that what the bot cannot do as the
// ImageUpdateAutomation asks fails the pass, writing nothing, and that a
// suspended automation writes nothing either.
func TestRunFluxAutomationRefused(t *testing.T) {
	tests := []struct {
		name, git string
		code      int
		stderr    string
	}{
		{"refspec", `  git:
    commit:
      author: {email: flux@example.com}
    push:
      refspec: refs/heads/main:refs/for/main
`, 1, `: imagebump pushes one branch; only a refspec`},
		{"signing key", `  git:
    commit:
      author: {email: flux@example.com}
      signingKey:
        secretRef: {name: gpg}
`, 1, `signs commits with the key in secret gpg, which imagebump cannot read: set commit.signingKeyFile`},
		{"suspended", `  suspend: true
  git:
    commit:
      author: {email: flux@example.com}
`, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newRunWorld(t)
			w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
			fluxFleet(w, tc.git)
			before := w.git.Ref(t, runRepo, "refs/heads/main")
			out := w.once(w.config("push", ""))
			if out.code != tc.code || !strings.Contains(out.stderr, tc.stderr) {
				t.Errorf("exit %d, want %d with %q in:\n%s", out.code, tc.code, tc.stderr, out.stderr)
			}
			if now := w.git.Ref(t, runRepo, "refs/heads/main"); now != before {
				t.Errorf("main moved from %s to %s", before, now)
			}
		})
	}
}

// TestRunFluxAutomationOfAnotherRepository checks that an
// ImageUpdateAutomation whose GitRepository (in the repository) is another
// repository is passed over by the pass: the bot config says where and how
// to commit, as without an automation.
func TestRunFluxAutomationOfAnotherRepository(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	fluxFleet(w, `  git:
    commit:
      author:
        name: fluxcdbot
        email: fluxcdbot@users.noreply.github.com
    push:
      branch: image-updates
  update:
    path: ./apps
    strategy: Setters
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  ref:
    branch: main
  url: ssh://git@github.com/acme/app-config.git
`)
	out := w.once(w.config("push", ""))
	if out.code != 0 {
		t.Fatalf("pass: exit %d\n%s", out.code, out.stderr)
	}
	if ref := w.git.Ref(t, runRepo, "refs/heads/image-updates"); ref != "" {
		t.Errorf("the pass pushed to image-updates (%s), the branch of another repository's automation", ref)
	}
	for _, f := range []string{"apps/web/deployment.yaml", "staging/web/deployment.yaml"} {
		if got := w.git.ReadFile(t, runRepo, "main", f); !strings.Contains(got, ":1.5.0 #") {
			t.Errorf("%s on main was not updated by the bot's own settings:\n%s", f, got)
		}
	}
	if c := w.git.Log(t, runRepo, "main")[0]; c.Author.Email == "fluxcdbot@users.noreply.github.com" {
		t.Errorf("the commit is the other automation's author's: %+v", c.Author)
	}
	if !strings.Contains(out.stderr, "updates GitRepository flux-system/flux-system (ssh://git@github.com/acme/app-config.git), not this repository") {
		t.Errorf("the pass does not say it passed the automation over:\n%s", out.stderr)
	}
}
