package main

import (
	"errors"
	"log/slog"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
)

// openWorkingCopy makes the working copy of a repository under the bot's
// workDir.
func openWorkingCopy(repo config.Repository, b *config.Bot, log *slog.Logger) (bot.WorkingCopy, error) {
	return nil, errors.New("git working copies are not wired in yet")
}
