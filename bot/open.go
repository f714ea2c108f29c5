package bot

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/gitea"
	"github.com/imagebump/imagebump/gitwriter/github"
	"github.com/imagebump/imagebump/gitwriter/gitlab"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// OpenWorkingCopy makes the gitwriter working copy of repo under the bot's
// workDir, with the bot's commit settings; progress (nil: none) receives
// the remote's clone and fetch progress.
func OpenWorkingCopy(b *config.Bot, repo config.Repository, log *slog.Logger, progress io.Writer) (WorkingCopy, error) {
	return gitwriter.New(gitwriter.Options{
		URL:             repo.URL,
		Branch:          repo.Branch,
		PushBranch:      repo.PushBranch,
		WorkDir:         b.WorkDir,
		Auth:            gitwriter.Auth{TokenFile: repo.Auth.TokenFile, Username: TokenUser(repo.Forge), SSHKeyFile: repo.Auth.SSHKeyFile, KnownHostsFile: repo.Auth.KnownHostsFile},
		Author:          gitwriter.Signature{Name: b.Commit.AuthorName, Email: b.Commit.AuthorEmail},
		SigningKeyFile:  b.Commit.SigningKeyFile,
		MessageTemplate: b.Commit.MessageTemplate,
		Logger:          log,
		Progress:        progress,
	})
}

// TokenUser is the basic-auth user git sends with the token to a
// repository on forge: GitLab accepts a token only with user oauth2;
// GitHub and Gitea check the token alone ("" keeps gitwriter's default).
func TokenUser(forge config.Forge) string {
	if forge == config.GitLab {
		return "oauth2"
	}
	return ""
}

// OpenForge makes the pull request client of repo for its forge (GitHub,
// GitLab or Gitea, at its apiURL), with the token of auth.tokenFile.
func OpenForge(repo config.Repository) (pullrequest.Forge, error) {
	if repo.Auth.TokenFile == "" {
		return nil, fmt.Errorf("pull request mode needs auth.tokenFile: the token also serves the %s API", forgeName(repo.Forge))
	}
	b, err := os.ReadFile(repo.Auth.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	switch repo.Forge {
	case config.GitHub:
		return github.New(repo.APIURL, repo.Owner, repo.Name, token)
	case config.GitLab:
		return gitlab.New(repo.APIURL, repo.Owner+"/"+repo.Name, token)
	case config.Gitea:
		return gitea.New(repo.APIURL, repo.Owner, repo.Name, token)
	default:
		return nil, errors.New("the repository names no forge: give it a github, gitlab or gitea section with apiURL")
	}
}

// forgeName is a forge's name as its users write it.
func forgeName(f config.Forge) string {
	switch f {
	case config.GitLab:
		return "GitLab"
	case config.Gitea:
		return "Gitea"
	default:
		return "GitHub"
	}
}

// unsupported reports the pull request settings repo's forge cannot
// honour, naming the policy file they come from, so they are never
// silently dropped: GitLab has no team reviewers (GitHub and Gitea do).
func unsupported(repo config.Repository, s config.PullRequests, files []string) error {
	if len(s.TeamReviewers) == 0 || repo.Forge != config.GitLab {
		return nil
	}
	file := "the root policy file"
	for _, f := range files {
		if slices.Contains(config.PolicyFileNames, f) {
			file = f
			break
		}
	}
	return fmt.Errorf("%s: pullRequests.teamReviewers: %s has no team reviewers; list the people under reviewers instead (nothing was written for this repository)", file, forgeName(repo.Forge))
}
