package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// DefaultRefresh is Memo.Refresh when it is 0.
const DefaultRefresh = time.Hour

// Memo remembers the last successful pass of each repository so that the
// next one can skip planning when nothing it depends on changed: the tick
// is incremental. A pass is skipped (Result.Unchanged) when
//
//   - the remote tip of the branch it follows is the one the remembered
//     pass planned,
//   - the policy files it read hash as they did (they are read again, not
//     the rest of the tree),
//   - every policy the markers use selects the same tag and digest, and
//   - in pull request mode, no git event named the repository since
//     (Forget) and the remembered pass is younger than Refresh: the forge
//     can change without the tip moving (a pull request closed or edited
//     by a human, a bot branch deleted), and only a full pass observes it.
//
// Only a pass that wrote nothing and has nothing pending is remembered:
// push mode with no commit to make; pull request mode where every group's
// pull request already carries its change, was declined by a human, or
// holds a refused downgrade (a group deferred by maxOpen or held by
// foreign commits is not, since it waits on the forge). A failed pass, a
// dry run that would write, and a repository whose Flux
// ImageUpdateAutomation redirects the pass are never remembered. Any pass
// that plans forgets what was remembered before, so a failure after the
// plan cannot leave a stale memory behind.
//
// A Memo lives in the daemon's memory only: run --once has none, and plans
// every repository. The zero value is ready; it is safe for concurrent use.
type Memo struct {
	// Refresh bounds how long a pull request mode repository may go
	// without a full pass; 0 means DefaultRefresh, negative means never.
	Refresh time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	repos map[string]*memory
}

// memory is what Memo keeps of one repository's last successful pass.
type memory struct {
	when time.Time
	// head is the remote tip the pass planned.
	head string
	// files are the policy files read, relative to the root, and hash
	// the SHA-256 of their names and contents.
	files []string
	hash  string
	// requests are what the markers asked of the policies, and selected
	// their tag and digest by policy name.
	requests []Request
	selected map[string]string
	// What the pass reported, given again by an unchanged one.
	plan    *patcher.Plan
	current []Value
	skips   []Skip
}

func (m *Memo) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// Forget drops what is remembered of the repository at url (any of its
// branches), so that its next pass plans. The webhook receiver calls it for
// git events, which may be about pull requests the tip does not show.
func (m *Memo) Forget(url string) {
	if m == nil {
		return
	}
	want := NormalizeGitURL(url)
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.repos {
		if u, _, _ := strings.Cut(k, "\x00"); NormalizeGitURL(u) == want {
			delete(m.repos, k)
		}
	}
}

// memoKey identifies a repository entry of the config: the same URL with
// another branch, paths or mode is another entry.
func memoKey(repo config.Repository) string {
	return strings.Join([]string{repo.URL, repo.Branch, repo.PushBranch, string(repo.Mode), strings.Join(repo.Paths, ","), boolString(repo.NoFlux)}, "\x00")
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (m *Memo) get(repo config.Repository) *memory {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.repos[memoKey(repo)]
}

func (m *Memo) drop(repo config.Repository) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.repos, memoKey(repo))
}

func (m *Memo) put(repo config.Repository, mem *memory) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.repos == nil {
		m.repos = map[string]*memory{}
	}
	m.repos[memoKey(repo)] = mem
}

// unchanged reports whether the pass of repo, synced at head in root, may
// skip planning; when it may, it fills res as the remembered pass did, with
// the policies resolved now. The registry answers from the round's shared
// listings, so this costs no request a planning pass would not make.
func (m *Memo) unchanged(ctx context.Context, rv *Resolver, reg Registry, repo config.Repository, root, head string, res *Result) bool {
	mem := m.get(repo)
	if mem == nil || mem.head != head {
		return false
	}
	if repo.Mode == config.PullRequest {
		refresh := m.Refresh
		if refresh == 0 {
			refresh = DefaultRefresh
		}
		if refresh > 0 && m.now().Sub(mem.when) >= refresh {
			return false
		}
	}
	if h, ok := hashFiles(root, mem.files); !ok || h != mem.hash {
		return false
	}
	resolved := rv.Resolve(ctx, reg, mem.requests)
	for _, p := range resolved {
		if p.Err != nil || mem.selected[p.Policy.Name()] != p.Tag+"@"+p.Digest {
			return false
		}
	}
	res.Unchanged = true
	res.Policies = resolved
	res.Plan = mem.plan
	res.Current = mem.current
	res.Skips = append(res.Skips, mem.skips...)
	return true
}

// remember keeps what the successful pass res of repo, synced at head in
// root, needs for the next one to be skipped, when it may be (see Memo).
func (m *Memo) remember(repo config.Repository, root, head string, st *Outcome, res *Result) {
	if res.Failed() || res.Commit != nil || st.PolicyFiles.Flux.Auto() != nil || !settled(res.PullRequests) {
		return
	}
	hash, ok := hashFiles(root, st.PolicyFiles.Files)
	if !ok {
		return
	}
	mem := &memory{
		when:     m.now(),
		head:     head,
		files:    st.PolicyFiles.Files,
		hash:     hash,
		requests: ScanTree(st.Tree, st.PolicyFiles),
		selected: map[string]string{},
		plan:     bareCopy(res.Plan),
		current:  res.Current,
		skips:    res.Skips,
	}
	for _, p := range res.Policies {
		mem.selected[p.Policy.Name()] = p.Tag + "@" + p.Digest
	}
	m.put(repo, mem)
}

// settled reports whether pull request results leave nothing pending on
// the forge: every group skipped with nothing to do, or held for a reason
// only a new version or a new tip lifts.
func settled(prs []pullrequest.Result) bool {
	for _, pr := range prs {
		if pr.Action != pullrequest.ActionSkip {
			return false
		}
		switch pr.Skip {
		case "", pullrequest.SkipDeclined, pullrequest.SkipDowngrade:
		default:
			return false
		}
	}
	return true
}

// bareCopy is p without the contents of its files, which an unchanged pass
// does not write and the memory should not hold.
func bareCopy(p *patcher.Plan) *patcher.Plan {
	if p == nil {
		return nil
	}
	c := *p
	c.Files = make([]patcher.FileChange, len(p.Files))
	for i, f := range p.Files {
		c.Files[i] = patcher.FileChange{Path: f.Path, Mode: f.Mode, Changes: f.Changes}
	}
	return &c
}

// hashFiles is the SHA-256 of the names and contents of files under root;
// false when one cannot be read.
func hashFiles(root string, files []string) (string, bool) {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return "", false
		}
		h.Write([]byte(f))
		h.Write([]byte{0})
		sum := sha256.Sum256(b) // length-safe: the file's own digest
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil)), true
}
