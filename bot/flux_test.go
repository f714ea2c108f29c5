package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/problem"
)

func TestFluxSettings(t *testing.T) {
	bot := &config.Bot{Commit: config.Commit{AuthorName: "imagebump", AuthorEmail: "bot@example.com"}}
	auto := config.Automation{Namespace: "flux-system", Name: "auto", File: "a.yaml", Line: 4,
		CheckoutBranch: "release", PushBranch: "image-updates", AuthorName: "fluxcdbot", AuthorEmail: "flux@example.com"}
	type view struct {
		Branch, PushBranch, AuthorName, AuthorEmail string
	}
	tests := []struct {
		name    string
		mode    config.Mode
		mutate  func(a *config.Automation)
		signing string
		want    view
		wantErr string
	}{
		{"push mode", config.Push, nil, "", view{"release", "image-updates", "fluxcdbot", "flux@example.com"}, ""},
		{"pull request mode keeps the bot's author", config.PullRequest, nil, "", view{"release", "", "imagebump", "bot@example.com"}, ""},
		{"push branch equal to checkout", config.Push, func(a *config.Automation) { a.PushBranch = "release" }, "", view{"release", "", "fluxcdbot", "flux@example.com"}, ""},
		{"no name", config.Push, func(a *config.Automation) { a.AuthorName = "" }, "", view{"release", "image-updates", "flux@example.com", "flux@example.com"}, ""},
		{"signing key without a key file", config.Push, func(a *config.Automation) { a.SigningKeySecret = "gpg" }, "",
			view{}, "the repository's ImageUpdateAutomation asks what imagebump cannot do; nothing was written:\na.yaml:4: ImageUpdateAutomation flux-system/auto signs commits with the key in secret gpg, which imagebump cannot read: set commit.signingKeyFile to that key"},
		{"signing key with a key file", config.Push, func(a *config.Automation) { a.SigningKeySecret = "gpg" }, "/keys/bot.asc",
			view{"release", "image-updates", "fluxcdbot", "flux@example.com"}, ""},
		{"unsupported", config.Push, func(a *config.Automation) {
			a.Unsupported = problem.List{{File: "a.yaml", Line: 9, Message: "git.push.refspec: no"}}
		}, "", view{}, "the repository's ImageUpdateAutomation asks what imagebump cannot do; nothing was written:\na.yaml:9: git.push.refspec: no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := auto
			if tc.mutate != nil {
				tc.mutate(&a)
			}
			b := *bot
			b.Commit.SigningKeyFile = tc.signing
			cfg, repo, err := FluxSettings(&b, config.Repository{Branch: "main", Mode: tc.mode}, &a)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := view{repo.Branch, repo.PushBranch, cfg.Commit.AuthorName, cfg.Commit.AuthorEmail}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if bot.Commit.AuthorEmail != "bot@example.com" {
				t.Error("FluxSettings changed the bot config it was given")
			}
		})
	}
}
