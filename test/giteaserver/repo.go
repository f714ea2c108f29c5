package giteaserver

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/test/forgefake"
)

// Repo is a repository on a real Gitea as the pull request tests see it,
// in the fakes' terms (forgefake): its state is read from the API, the
// writes of the client under test are logged by its Proxy, and humans act
// as the user human (commits, closes, merges). Its owner is an
// organization of its own, whose team platform and user alice can be
// asked for reviews.
type Repo struct {
	// Server is the Gitea; the client under test is given Proxy.URL and
	// Server.Token.
	Server *Server
	Proxy  *Proxy

	t           testing.TB
	owner, repo string
	// scratch is a bare repository borrowing the server's objects
	// (alternates), where commits are made before they are pushed.
	scratch string
}

// NewRepo makes, on the test binary's Gitea (Shared), a fresh organization
// named prefix and a unique number, with its team platform, and the
// repository ORG/repo holding the main branch of the bare repository seed,
// where alice and human may write. The scenario gets its own Proxy. Org
// tells the organization's name.
func NewRepo(t testing.TB, seed, prefix, repo string) *Repo {
	t.Helper()
	srv := Shared(t)
	owner := srv.CreateOrg(prefix)
	srv.CreateTeam(owner, "platform")
	srv.CreateRepo(owner, repo, nil)
	for _, u := range Users {
		srv.AddCollaborator(owner, repo, u)
	}
	srv.Git(seed, "push", "-q", srv.GitURL("human", owner, repo), "main")
	g := &Repo{t: t, Server: srv, Proxy: srv.Proxy(), owner: owner, repo: repo}
	g.scratch = filepath.Join(t.TempDir(), "scratch.git")
	srv.Git(filepath.Dir(g.scratch), "init", "-q", "--bare", g.scratch)
	alt := filepath.Join(srv.RepoDir(owner, repo), "objects") + "\n"
	if err := os.WriteFile(filepath.Join(g.scratch, "objects", "info", "alternates"), []byte(alt), 0o644); err != nil {
		t.Fatal(err)
	}
	return g
}

// Org is the repository's organization, made for it.
func (g *Repo) Org() string { return g.owner }

// Name is the repository's name in its organization.
func (g *Repo) Name() string { return g.repo }

// FullName is ORG/NAME, the repository's path on the server.
func (g *Repo) FullName() string { return g.owner + "/" + g.repo }

// Dir is the server's own repository, which the scenarios read.
func (g *Repo) Dir() string { return g.Server.RepoDir(g.owner, g.repo) }

// Commit makes a commit of files on parent, authored by email, and pushes
// it to branch with git over HTTP as the user as, leased on lease (empty:
// the branch must not exist).
func (g *Repo) Commit(as, parent, branch string, files map[string]string, email, message, lease string) (string, error) {
	c, err := forgefake.CommitFiles(g.scratch, parent, branch, files, email, message)
	if err != nil {
		return "", err
	}
	return c, g.push(as, "refs/heads/"+branch, lease, c+":refs/heads/"+branch)
}

// DeleteBranch deletes branch, leased on lease, as the bot would.
func (g *Repo) DeleteBranch(branch, lease string) error {
	return g.DeleteBranchAs(AdminUser, branch, lease)
}

// DeleteBranchAs deletes branch, leased on lease, as the user as.
func (g *Repo) DeleteBranchAs(as, branch, lease string) error {
	return g.push(as, "refs/heads/"+branch, lease, ":refs/heads/"+branch)
}

func (g *Repo) push(as, ref, lease, refspec string) error {
	_, err := gitOut(g.scratch, "push", "-q", "--force-with-lease="+ref+":"+lease, g.Server.GitURL(as, g.owner, g.repo), refspec)
	return err
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// apiPR is the part of Gitea's pull request the scenarios check.
type apiPR struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	State  string `json:"state"`
	Draft  bool   `json:"draft"`
	Merged bool   `json:"merged"`
	Head   struct {
		Ref string `json:"ref"`
		Sha string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
	Reviewers []struct {
		Login string `json:"login"`
	} `json:"requested_reviewers"`
	Teams []struct {
		Name string `json:"name"`
	} `json:"requested_reviewers_teams"`
	User struct {
		Login string `json:"login"`
	} `json:"user"`
}

var wipRe = regexp.MustCompile(`(?i)^\s*(wip:|\[wip\])`)

func (g *Repo) convert(p apiPR) forgefake.PullRequest {
	pr := forgefake.PullRequest{
		Number: p.Number, Title: p.Title, Body: p.Body, State: p.State, Merged: p.Merged,
		// Gitea reads a draft from the title prefix.
		Draft: p.Draft || wipRe.MatchString(p.Title),
		Head:  p.Head.Ref, HeadSHA: p.Head.Sha, Base: p.Base.Ref, User: p.User.Login,
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.Name)
	}
	for _, r := range p.Reviewers {
		pr.Reviewers = append(pr.Reviewers, r.Login)
	}
	for _, tm := range p.Teams {
		pr.TeamReviewers = append(pr.TeamReviewers, tm.Name)
	}
	// Gitea answers an issue's comments all at once: the list has no
	// page or limit.
	var comments []struct {
		Body string `json:"body"`
	}
	g.Server.MustDo(AdminUser, http.MethodGet, fmt.Sprintf("/repos/%s/%s/issues/%d/comments", g.owner, g.repo, p.Number), nil, &comments)
	for _, c := range comments {
		pr.Comments = append(pr.Comments, c.Body)
	}
	return pr
}

// PullRequests reads every pull request of the repository, by number,
// page by page.
// Gitea's list leaves out the requested teams, so an open pull request is
// read again on its own. A merged one is not: in Gitea 1.26, GET of a
// merged pull request whose branch has a newer open pull request hung for
// minutes here.
func (g *Repo) PullRequests() []forgefake.PullRequest {
	g.t.Helper()
	prs := list[apiPR](g.Server, fmt.Sprintf("/repos/%s/%s/pulls?state=all", g.owner, g.repo))
	slices.SortFunc(prs, func(a, b apiPR) int { return a.Number - b.Number })
	out := make([]forgefake.PullRequest, 0, len(prs))
	for _, p := range prs {
		if p.State == "open" {
			g.Server.MustDo(AdminUser, http.MethodGet, fmt.Sprintf("/repos/%s/%s/pulls/%d", g.owner, g.repo, p.Number), nil, &p)
		}
		out = append(out, g.convert(p))
	}
	return out
}

// PullRequest reads pull request n.
func (g *Repo) PullRequest(n int) forgefake.PullRequest {
	g.t.Helper()
	for _, pr := range g.PullRequests() {
		if pr.Number == n {
			return pr
		}
	}
	g.t.Fatalf("no pull request #%d in %s/%s", n, g.owner, g.repo)
	return forgefake.PullRequest{}
}

// Writes are the writes of the client under test.
func (g *Repo) Writes() []forgefake.Write { return g.Proxy.Writes() }

// HumanClose closes pull request n as the user human.
func (g *Repo) HumanClose(n int) { g.Server.ClosePull("human", g.owner, g.repo, n) }

// Merge merges pull request n as the user human.
func (g *Repo) Merge(n int) { g.Server.MergePull("human", g.owner, g.repo, n) }

// FailOnce fails the client's next request with method and path.
func (g *Repo) FailOnce(method, path string, status int) { g.Proxy.FailOnce(method, path, status) }

// ClosePath is the request that closes pull request n.
func (g *Repo) ClosePath(n int) string {
	return fmt.Sprintf("/api/v1/repos/%s/%s/pulls/%d", g.owner, g.repo, n)
}
