package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/patcher"
)

// FluxSettings is the bot config and repository settings a pass uses when
// the checkout holds an ImageUpdateAutomation a (see config.Automation): its
// checkout branch is the base branch; in push mode its push branch is where
// the commit goes and its author makes it. It refuses what the bot cannot
// do as Flux would: a push refspec or push options, or a signing key
// secret when the bot config has no signing key to stand in for it.
func FluxSettings(b *config.Bot, repo config.Repository, a *config.Automation) (*config.Bot, config.Repository, error) {
	var errs []error
	for _, p := range a.Unsupported {
		errs = append(errs, errors.New(p.String()))
	}
	if a.SigningKeySecret != "" && b.Commit.SigningKeyFile == "" {
		errs = append(errs, fmt.Errorf("%s:%d: ImageUpdateAutomation %s signs commits with the key in secret %s, which imagebump cannot read: set commit.signingKeyFile to that key",
			a.File, a.Line, a, a.SigningKeySecret))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, repo, fmt.Errorf("the repository's ImageUpdateAutomation asks what imagebump cannot do; nothing was written:\n%w", err)
	}
	cfg := *b
	if a.CheckoutBranch != "" {
		repo.Branch = a.CheckoutBranch
	}
	if repo.Mode == config.Push {
		if a.PushBranch != "" && a.PushBranch != repo.Branch {
			repo.PushBranch = a.PushBranch
		}
		if a.AuthorEmail != "" {
			cfg.Commit.AuthorEmail = a.AuthorEmail
			// Flux lets the name be empty; a commit needs one.
			cfg.Commit.AuthorName = a.AuthorName
			if strings.TrimSpace(a.AuthorName) == "" {
				cfg.Commit.AuthorName = a.AuthorEmail
			}
		}
	}
	return &cfg, repo, nil
}

// fluxMessage sets the commit message of cs to the rendering of the
// ImageUpdateAutomation's template, when the checkout has one.
func fluxMessage(cs *gitwriter.ChangeSet, pols *config.Policies, plan *patcher.Plan) error {
	a := pols.Flux.Auto()
	if a == nil || len(plan.Changes) == 0 {
		return nil
	}
	content := map[string][]byte{}
	for _, f := range plan.Files {
		content[f.Path] = f.New
	}
	changes := make([]config.MarkerChange, len(plan.Changes))
	for i, c := range plan.Changes {
		setter := c.Policy
		if c.Field != patcher.FieldRef {
			setter += ":" + string(c.Field)
		}
		changes[i] = config.MarkerChange{File: c.File, Line: c.Line, Setter: setter, Old: c.Old, New: c.New}
	}
	msg, err := a.Message(changes, func(f string) []byte { return content[f] })
	if err != nil {
		return fmt.Errorf("%s:%d: %w", a.File, a.Line, err)
	}
	cs.Message = msg
	return nil
}

// followFlux carries out the ImageUpdateAutomation the plan st found in the
// checkout, if any: when it names another branch, push branch or author,
// the pass goes on in a working copy opened with those, planned again
// there (the round's registry pass lists no image twice). It returns the
// working copy, repository settings and plan the pass goes on with.
func (r *Runner) followFlux(ctx context.Context, reg Registry, wc WorkingCopy, repo config.Repository, st *Outcome, res *Result, log *slog.Logger) (WorkingCopy, config.Repository, *Outcome, error) {
	a := st.PolicyFiles.Flux.Auto()
	if a == nil || a.Suspend {
		return wc, repo, st, nil
	}
	cfg, frepo, err := FluxSettings(r.Config, repo, a)
	if err != nil {
		return nil, repo, nil, err
	}
	if repo.Mode != config.Push {
		log.Warn("pull request mode: the ImageUpdateAutomation's push branch, author and message template are push-mode settings and are not used",
			"automation", a.String(), "file", a.File, "line", a.Line)
	}
	if frepo.Branch == repo.Branch && frepo.PushBranch == repo.PushBranch && cfg.Commit == r.Config.Commit {
		return wc, repo, st, nil
	}
	log.Info("following the repository's ImageUpdateAutomation", "automation", a.String(), "file", a.File,
		"branch", frepo.Branch, "pushBranch", frepo.PushBranch, "author", cfg.Commit.AuthorEmail)
	if r.Open != nil {
		wc, err = r.Open(frepo)
	} else {
		var progress io.Writer
		if r.Progress != nil {
			progress = r.Progress(frepo)
		}
		wc, err = OpenWorkingCopy(cfg, frepo, r.Logger, progress)
	}
	if err != nil {
		return nil, repo, nil, fmt.Errorf("opening the working copy the ImageUpdateAutomation at %s:%d names: %w", a.File, a.Line, err)
	}
	if _, err := wc.Sync(ctx); err != nil {
		return nil, repo, nil, fmt.Errorf("syncing the working copy the ImageUpdateAutomation at %s:%d names: %w", a.File, a.Line, err)
	}
	st, err = r.plan(ctx, reg, wc.Dir(), frepo, res)
	if err != nil {
		return nil, repo, nil, err
	}
	return wc, frepo, st, nil
}
