package bot

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"

	"github.com/imagebump/imagebump/config"
)

// Shard is the part of a bot config's repositories one process owns: shard
// Index of Count. Repositories are assigned by rendezvous hashing of their
// URL (ShardOf), so every repository belongs to exactly one shard, every
// process over the same config agrees without talking to the others, and
// changing Count moves only about 1/Count of the repositories.
//
// The zero value, like Count 1, owns every repository.
type Shard struct {
	Index int
	Count int
}

// Sharded reports whether s owns only part of the repositories.
func (s Shard) Sharded() bool { return s.Count > 1 }

// String is "INDEX/COUNT", or "0/1" unsharded.
func (s Shard) String() string {
	if !s.Sharded() {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Validate reports a count below 1 or an index outside [0, count).
func (s Shard) Validate() error {
	count := max(s.Count, 1)
	if s.Count < 0 {
		return fmt.Errorf("shard count %d: it must be at least 1", s.Count)
	}
	if s.Index < 0 || s.Index >= count {
		return fmt.Errorf("shard index %d: it must be in [0, %d) for %d shard(s)", s.Index, count, count)
	}
	return nil
}

// Owns reports whether the repository at url belongs to s.
func (s Shard) Owns(url string) bool {
	return !s.Sharded() || ShardOf(url, s.Count) == s.Index
}

// Filter returns the repositories s owns, in their order.
func (s Shard) Filter(repos []config.Repository) []config.Repository {
	if !s.Sharded() {
		return repos
	}
	var out []config.Repository
	for _, r := range repos {
		if s.Owns(r.URL) {
			out = append(out, r)
		}
	}
	return out
}

// ShardOf returns the shard, in [0, count), that owns the repository at
// rawURL: of all shards, the one whose hash with the URL's key (ShardKey)
// scores highest (rendezvous, or highest random weight, hashing). Going
// from n to n+1 shards, a repository moves only when the new shard
// outscores its old one, which happens for about 1/(n+1) of them, and
// then only to the new shard; removing a shard moves only its own.
//
// The hash is part of the contract between the processes of one fleet,
// which may run different versions during a rollout: changing it
// reassigns repositories (TestShardOfPinned keeps it from changing by
// accident).
func ShardOf(rawURL string, count int) int {
	if count <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(ShardKey(rawURL)))
	key := h.Sum64()
	best, bestScore := 0, uint64(0)
	for i := range count {
		score := mix64(key ^ mix64(uint64(i)+0x9e3779b97f4a7c15))
		if i == 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// mix64 is the finaliser of SplitMix64: every input bit flips about half
// of the output bits, which FNV alone does not give for URLs that differ
// only in their last characters.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ShardKey is what ShardOf hashes: the URL without user information, so
// that neither a credential nor the SSH user name ("git@") decides or
// reveals the assignment. Everything else is kept as written.
func ShardKey(rawURL string) string {
	if strings.Contains(rawURL, "://") {
		if u, err := url.Parse(rawURL); err == nil {
			u.User = nil
			return u.String()
		}
		return rawURL
	}
	// scp-like SSH: [user@]host:path.
	if at := strings.IndexByte(rawURL, '@'); at >= 0 {
		if colon := strings.IndexByte(rawURL, ':'); colon < 0 || at < colon {
			return rawURL[at+1:]
		}
	}
	return rawURL
}

// The environment variables ShardIndexFromEnv reads, in that order.
const (
	// EnvJobCompletionIndex is set by Kubernetes in the pods of an Indexed
	// Job (a CronJob's job template with completionMode: Indexed).
	EnvJobCompletionIndex = "JOB_COMPLETION_INDEX"
	// EnvPodIndex is meant to carry the apps.kubernetes.io/pod-index label
	// of a StatefulSet's pod through the downward API.
	EnvPodIndex = "POD_INDEX"
	// EnvPodName is meant to carry the pod's name through the downward API;
	// a StatefulSet names its pods NAME-ORDINAL.
	EnvPodName = "POD_NAME"
)

// ShardIndexFromEnv returns the shard index Kubernetes gives the pod, read
// with getenv: JOB_COMPLETION_INDEX, else POD_INDEX, else the ordinal at
// the end of POD_NAME. from names the variable it came from, "" when none
// is set. A variable that is set but is not a non-negative integer (or, for
// POD_NAME, does not end in -ORDINAL) is an error naming it.
func ShardIndexFromEnv(getenv func(string) string) (index int, from string, err error) {
	for _, name := range []string{EnvJobCompletionIndex, EnvPodIndex} {
		v := getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, name, fmt.Errorf("%s=%q: not a non-negative integer", name, v)
		}
		return n, name, nil
	}
	v := getenv(EnvPodName)
	if v == "" {
		return 0, "", nil
	}
	i := strings.LastIndexByte(v, '-')
	n, err := strconv.Atoi(v[i+1:])
	if i < 0 || err != nil || n < 0 || v[i+1] == '+' {
		return 0, EnvPodName, fmt.Errorf("%s=%q: does not end in -ORDINAL as a StatefulSet's pod names do", EnvPodName, v)
	}
	return n, EnvPodName, nil
}
