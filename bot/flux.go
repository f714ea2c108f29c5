package bot

import (
	"errors"
	"fmt"
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
