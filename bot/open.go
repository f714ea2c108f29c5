package bot

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// OpenWorkingCopy makes the gitwriter working copy of repo under the bot's
// workDir, with the bot's commit settings; progress (nil: none) receives
// the remote's clone and fetch progress.
func OpenWorkingCopy(b *config.Bot, repo config.Repository, log *slog.Logger, progress io.Writer) (WorkingCopy, error) {
	return gitwriter.New(gitwriter.Options{
		URL:        repo.URL,
		Branch:     repo.Branch,
		PushBranch: repo.PushBranch,
		WorkDir:    b.WorkDir,
		// The forge kind says which user git sends with the token ("":
		// gitwriter's default, and push mode's without a forge).
		Auth:            gitwriter.Auth{TokenFile: repo.Auth.TokenFile, Username: repo.Forge.TokenUser, SSHKeyFile: repo.Auth.SSHKeyFile, KnownHostsFile: repo.Auth.KnownHostsFile},
		Author:          gitwriter.Signature{Name: b.Commit.AuthorName, Email: b.Commit.AuthorEmail},
		SigningKeyFile:  b.Commit.SigningKeyFile,
		MessageTemplate: b.Commit.MessageTemplate,
		Logger:          log,
		Progress:        progress,
		MaxObjectSize:   b.Limits.MaxObjectSize,
	})
}

// OpenForge makes the pull request client of repo with the constructor of
// its forge kind (which config chose from the forge table), at its apiURL,
// with the token of auth.tokenFile; log (nil: discard) receives what the
// client decides on its own. bot imports no forge client.
func OpenForge(repo config.Repository, log *slog.Logger) (pullrequest.Forge, error) {
	k := repo.Forge
	if k.New == nil {
		return nil, fmt.Errorf("the repository names no forge: give it a forge section with apiURL")
	}
	if repo.Auth.TokenFile == "" {
		return nil, fmt.Errorf("pull request mode needs auth.tokenFile: the token also serves the %s API", k.Title)
	}
	b, err := os.ReadFile(repo.Auth.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	return k.New(repo.APIURL, repo.Owner+"/"+repo.Name, strings.TrimSpace(string(b)), log)
}

// passForge opens a repository's forge client at most once in a pass, for
// the pull requests and the dashboard alike. A client spaces its own
// writes (GitHub asks for a second between them), which holds only within
// one client: a pass that opened a second one for the dashboard could
// write to the forge twice within a second. The client is opened when
// first needed, so a pass that needs none opens none.
type passForge struct {
	open   func() (pullrequest.Forge, error)
	opened bool
	forge  pullrequest.Forge
	err    error
}

// passForge is the forge of repo for one pass: Runner.Forge, else
// OpenForge with the pass's logger.
func (r *Runner) passForge(repo config.Repository, log *slog.Logger) *passForge {
	open := r.Forge
	if open == nil {
		open = func(repo config.Repository) (pullrequest.Forge, error) { return OpenForge(repo, log) }
	}
	return &passForge{open: func() (pullrequest.Forge, error) { return open(repo) }}
}

// get opens the client on the first call and returns that client, or
// that error, on every call. A pass's steps run one after the other: it
// is not safe for concurrent use.
func (p *passForge) get() (pullrequest.Forge, error) {
	if !p.opened {
		p.forge, p.err = p.open()
		p.opened = true
	}
	return p.forge, p.err
}

// checkForge validates a repository's policy files against its forge
// kind's capabilities (config.CheckForge), run as soon as they are loaded,
// before any registry is asked: a setting the forge cannot honour is an
// invalid policy file (exit 2), never silently dropped.
func checkForge(repo config.Repository, pols *config.Policies) error {
	if repo.Mode != config.PullRequest {
		return nil
	}
	ps := config.CheckForge(repo.Forge, pols)
	if len(ps) == 0 {
		return nil
	}
	for i := range ps {
		ps[i].Message += " (nothing was written for this repository)"
	}
	return ps
}
