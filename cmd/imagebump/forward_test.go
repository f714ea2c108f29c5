package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/bot/webhook"
	"github.com/imagebump/imagebump/config"
)

// TestForwardingOwners: a git event goes to the owner of the repository it
// names (nowhere when that is this shard or no configured repository), a
// registry event to every other shard.
func TestForwardingOwners(t *testing.T) {
	const count = 4
	var repos []config.Repository
	byShard := map[int]string{}
	for i := 0; len(byShard) < count; i++ {
		u := "https://git.example/acme/r" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".git"
		repos = append(repos, config.Repository{URL: u})
		if _, ok := byShard[bot.ShardOf(u, count)]; !ok {
			byShard[bot.ShardOf(u, count)] = u
		}
	}
	b := &config.Bot{Listen: "127.0.0.1:9000", Repositories: repos}
	cfg := runConfig{forwardSecretFile: "/nonexistent", getenv: func(string) string { return "" }}
	f := cfg.forwarding(b, bot.Shard{Index: 1, Count: count})
	if f == nil {
		t.Fatal("no forwarding for a sharded daemon with a secret file")
	}
	tests := []struct {
		name string
		ev   webhook.Event
		want []int
	}{
		{name: "git event for shard 3's repository, by its web page", ev: webhook.Event{Repositories: []string{"https://GIT.example/" + byShard[3][len("https://git.example/"):len(byShard[3])-len(".git")]}}, want: []int{3}},
		{name: "git event for this shard's repository", ev: webhook.Event{Repositories: []string{byShard[1]}}, want: []int{}},
		{name: "git event for an unknown repository", ev: webhook.Event{Repositories: []string{"https://git.example/other/x.git"}}, want: []int{}},
		{name: "registry event", ev: webhook.Event{Images: []string{"registry.example/acme/web"}}, want: []int{0, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, f.owners(tc.ev)); diff != "" {
				t.Errorf("owners (-want +got):\n%s", diff)
			}
		})
	}
	if got, _ := f.peer(2); got != "http://imagebump-2.imagebump-shards:9000" {
		t.Errorf("default peer of shard 2: %s", got)
	}
	for _, tc := range []struct {
		name string
		cfg  runConfig
		bot  bot.Shard
	}{
		{name: "--once", cfg: runConfig{once: true, forwardSecretFile: "/s"}, bot: bot.Shard{Index: 0, Count: 2}},
		{name: "one shard", cfg: runConfig{forwardSecretFile: "/s"}, bot: bot.Shard{Count: 1}},
		{name: "no secret file", cfg: runConfig{}, bot: bot.Shard{Index: 0, Count: 2}},
	} {
		tc.cfg.getenv = func(string) string { return "" }
		if f := tc.cfg.forwarding(b, tc.bot); f != nil {
			t.Errorf("%s: forwarding on", tc.name)
		}
	}
}
