package bot

import (
	"log/slog"
	"os"
	"time"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
)

// IdleCopyAge is how long a working copy under workDir may go unused
// before PruneWorkDir removes it, when it is no repository's of the config.
// Passes of the repositories in use mark their copies every time, so only
// copies left behind get that old: of a repository taken out of the config,
// moved to another shard, or of a branch no longer followed.
const IdleCopyAge = 7 * 24 * time.Hour

// PruneWorkDir removes the working copies under b.WorkDir that belong to
// none of b's repositories and that no pass used for IdleCopyAge as of
// now, and returns them. Another process sharing the workDir (which run
// does not support) keeps its copies: its passes use them.
func PruneWorkDir(b *config.Bot, now time.Time, log *slog.Logger) []string {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	keep := make([]string, len(b.Repositories))
	for i, r := range b.Repositories {
		keep[i] = gitwriter.DirName(r.URL, r.Branch)
	}
	idle, err := gitwriter.IdleCopies(b.WorkDir, keep, IdleCopyAge, now)
	if err != nil {
		log.Warn("listing the working copies in workDir failed", "workDir", b.WorkDir, "err", err)
		return nil
	}
	var removed []string
	for _, dir := range idle {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("removing an unused working copy failed", "dir", dir, "err", err)
			continue
		}
		log.Info("removed a working copy no repository of the config has used for a week", "dir", dir)
		removed = append(removed, dir)
	}
	return removed
}
