package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/bot/webhook"
	"github.com/imagebump/imagebump/config"
)

// The environment defaults of --peer-url and --forward-secret-file.
const (
	envPeerURL           = "IMAGEBUMP_PEER_URL"
	envForwardSecretFile = "IMAGEBUMP_FORWARD_SECRET_FILE"
	// defaultPeerURL is the StatefulSet overlay's pod behind its headless
	// Service.
	defaultPeerURL = "http://imagebump-{index}.imagebump-shards:{port}"
	// forwardTimeout bounds one forwarding request.
	forwardTimeout = 10 * time.Second
)

// forwarding sends the webhook events a replica of a sharded daemon
// receives for other shards' repositories to their replicas (webhook.Forward).
type forwarding struct {
	shard bot.Shard
	// repos are all the config's repositories, not only the shard's.
	repos      []config.Repository
	peerURL    string // with {index}
	secretFile string
	client     *http.Client
}

// forwarding is the forwarding of a daemon serving shard over b (its
// repositories not yet filtered): nil with --once, without shards or
// without a forwarding secret file.
func (cfg runConfig) forwarding(b *config.Bot, shard bot.Shard) *forwarding {
	getenv := cfg.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	file := firstSet(cfg.forwardSecretFile, getenv(envForwardSecretFile))
	if cfg.once || !shard.Sharded() || file == "" {
		return nil
	}
	peer := firstSet(cfg.peerURL, getenv(envPeerURL), defaultPeerURL)
	port := "8080"
	if _, p, err := net.SplitHostPort(b.Listen); err == nil && p != "" {
		port = p
	}
	return &forwarding{
		shard:      shard,
		repos:      slices.Clone(b.Repositories),
		peerURL:    strings.ReplaceAll(peer, "{port}", port),
		secretFile: file,
		client:     &http.Client{Timeout: forwardTimeout},
	}
}

// firstSet is the first non-empty string.
func firstSet(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// secret reads the forwarding secret on every use, so that a rotated file
// is picked up.
func (f *forwarding) secret() ([]byte, error) {
	b, err := os.ReadFile(f.secretFile)
	if err != nil {
		return nil, fmt.Errorf("reading the forwarding secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("the forwarding secret file is empty")
	}
	return b, nil
}

// owners are the other shards ev may concern: for a git event, the
// owners of the configured repositories it names; for a registry event,
// every other shard, since only the owner of a repository knows which
// images its policies use.
func (f *forwarding) owners(ev webhook.Event) []int {
	set := map[int]bool{}
	if len(ev.Images) > 0 {
		for i := range f.shard.Count {
			set[i] = true
		}
	}
	for _, u := range ev.Repositories {
		want := bot.NormalizeGitURL(u)
		for _, r := range f.repos {
			if bot.NormalizeGitURL(r.URL) == want {
				set[bot.ShardOf(r.URL, f.shard.Count)] = true
			}
		}
	}
	delete(set, f.shard.Index)
	out := make([]int, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// peer is the base URL of shard i's replica: the template's {index}
// replaced by i, or the i-th of a comma-separated list of URLs.
func (f *forwarding) peer(i int) (string, error) {
	if strings.Contains(f.peerURL, ",") {
		urls := strings.Split(f.peerURL, ",")
		if len(urls) != f.shard.Count {
			return "", fmt.Errorf("--peer-url lists %d URLs for %d shards", len(urls), f.shard.Count)
		}
		return strings.TrimSpace(urls[i]), nil
	}
	if !strings.Contains(f.peerURL, "{index}") {
		return "", fmt.Errorf("--peer-url %q has no {index} and is not a list of one URL per shard", f.peerURL)
	}
	return strings.ReplaceAll(f.peerURL, "{index}", strconv.Itoa(i)), nil
}

// forward sends ev to the replicas of the other shards it concerns, once
// each, in the background (a webhook's Deliver must not block).
func (f *forwarding) forward(ctx context.Context, ev webhook.Event, log *slog.Logger) {
	owners := f.owners(ev)
	if len(owners) == 0 {
		return
	}
	secret, err := f.secret()
	if err != nil {
		log.Error("webhook event not forwarded", "source", string(ev.Source), "event", ev.Kind, "err", err)
		return
	}
	for _, i := range owners {
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forwardTimeout)
			defer cancel()
			peer, err := f.peer(i)
			if err == nil {
				err = webhook.Forward(ctx, f.client, peer, f.shard.Index, ev, secret)
			}
			if err != nil {
				log.Error("webhook event not forwarded", "to", "shard "+strconv.Itoa(i), "source", string(ev.Source), "event", ev.Kind, "err", err)
				return
			}
			log.Info("webhook event forwarded", "to", "shard "+strconv.Itoa(i), "source", string(ev.Source), "event", ev.Kind)
		}()
	}
}
