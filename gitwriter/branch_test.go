package gitwriter

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/gitserver"
)

func TestBranchName(t *testing.T) {
	tests := []struct {
		prefix, group, want, err string
	}{
		{"imagebump/", "web", "imagebump/web", ""},
		{"imagebump/", "flux-system:web", "imagebump/flux-system-web", ""},
		{"bump-", "a.b_c", "bump-a.b_c", ""},
		{"imagebump/", "", "", "group is empty"},
		{"imagebump/", "a..b", "", "contains .."},
		{"imagebump/", "a@{1}", "", "contains @{"},
		{"imagebump/", "a b", "", `contains ' '`},
		{"imagebump/", "a~1", "", `contains '~'`},
		{"imagebump/", "a^", "", `contains '^'`},
		{"imagebump/", "a?", "", `contains '?'`},
		{"imagebump/", "a*", "", `contains '*'`},
		{"imagebump/", "a[", "", `contains '['`},
		{"imagebump/", `a\b`, "", `contains '\\'`},
		{"imagebump/", "a\x01", "", "control character"},
		{"imagebump/", "a\x7f", "", "control character"},
		{"imagebump/", "web.lock", "", "ends with .lock"},
		{"imagebump/", "web/", "", "begins or ends with /"},
		{"imagebump/", "web.", "", "ends with ."},
		{"imagebump/", ".web", "", "begins with ."},
		{"imagebump/", "a/.b", "", "begins with ."},
		{"imagebump/", "a//b", "", "contains //"},
		{"", "-web", "", "begins with -"},
		{"", "@", "", "is not a valid ref name"},
	}
	for _, tc := range tests {
		t.Run(tc.prefix+tc.group, func(t *testing.T) {
			got, err := BranchName(tc.prefix, tc.group)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("BranchName = %q, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("BranchName = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestBranchNames(t *testing.T) {
	got, err := BranchNames("imagebump/", []string{"web", "ns:api", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"web": "imagebump/web", "ns:api": "imagebump/ns-api"}, got); diff != "" {
		t.Errorf("BranchNames (-want +got):\n%s", diff)
	}
	_, err = BranchNames("imagebump/", []string{"x", "a-b", "a:b", "bad..one"})
	if err == nil {
		t.Fatal("BranchNames of colliding groups succeeded")
	}
	for _, want := range []string{`groups "a-b" and "a:b" both map to branch "imagebump/a-b"`, `"bad..one"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// prSetup is a repository with a synced working copy for branch tests.
func prSetup(t *testing.T) (*gitserver.Server, *Repo) {
	t.Helper()
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	mustSync(t, r)
	return s, r
}

func TestPublishAndBranchState(t *testing.T) {
	s, r := prSetup(t)
	ctx := context.Background()
	base := r.Head()

	st, err := r.Branch(ctx, "imagebump/web")
	if err != nil || st.Exists {
		t.Fatalf("Branch of a missing branch = %+v, %v", st, err)
	}
	pub, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 2\n", "web", "1", "2"), "")
	if err != nil || !pub.Pushed || s.Ref(t, "fleet", "refs/heads/imagebump/web") != pub.Head {
		t.Fatalf("Publish = %+v, %v; server has %s", pub, err, s.Ref(t, "fleet", "refs/heads/imagebump/web"))
	}

	t.Run("state of a fresh bot branch", func(t *testing.T) {
		// A second working copy sees it from the remote alone.
		r2 := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
		mustSync(t, r2)
		st, err := r2.Branch(ctx, "imagebump/web")
		if err != nil {
			t.Fatal(err)
		}
		want := BranchState{
			Name: "imagebump/web", Exists: true, Head: pub.Head, Base: base, MergeBase: base,
			Commits: []BranchCommit{{Hash: pub.Head, Author: bot, Committer: bot, Subject: "Update web to 2", ByBot: true}},
			Files:   []string{"a.yaml"},
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("Branch (-want +got):\n%s", diff)
		}
		got, err := r2.ReadFile(st.Head, "a.yaml")
		if err != nil || string(got) != "a: 2\n" {
			t.Errorf("ReadFile(head, a.yaml) = %q, %v", got, err)
		}
		if _, err := r2.ReadFile(st.Head, "nope.yaml"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadFile of a missing file = %v, want os.ErrNotExist", err)
		}
	})

	t.Run("same change again: no push", func(t *testing.T) {
		s.ResetTraffic()
		again, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 2\n", "web", "1", "2"), pub.Head)
		if err != nil || again.Pushed || again.Head != pub.Head {
			t.Errorf("Publish = %+v, %v; want no push, head %s", again, err, pub.Head)
		}
		if tr := s.Traffic(); tr.Requests != 0 {
			t.Errorf("Traffic = %+v, want no request", tr)
		}
	})

	t.Run("nothing to propose", func(t *testing.T) {
		res, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 1\n", "web", "1", "1"), pub.Head)
		if err != nil || !res.Unchanged || res.Pushed {
			t.Errorf("Publish = %+v, %v; want Unchanged", res, err)
		}
	})

	t.Run("base moved: rebuilt on the new base, forced", func(t *testing.T) {
		newBase := s.Commit(t, "fleet", "main", "someone", map[string]string{"b.yaml": "b: 2\n"})
		for range 12 { // deeper than the first fetch depth
			newBase = s.Commit(t, "fleet", "main", "someone", map[string]string{"c.yaml": newBase})
		}
		mustSync(t, r)
		st, err := r.Branch(ctx, "imagebump/web")
		if err != nil {
			t.Fatal(err)
		}
		if st.MergeBase != base || st.Base != newBase || len(st.Commits) != 1 || !st.Commits[0].ByBot {
			t.Errorf("Branch = %+v, want merge base %s, base %s, one bot commit", st, base, newBase)
		}
		// The PR lifecycle compares the files at the merge base and the base.
		old, _ := r.ReadFile(st.MergeBase, "b.yaml")
		cur, _ := r.ReadFile(st.Base, "b.yaml")
		if string(old) != "b: 1\n" || string(cur) != "b: 2\n" {
			t.Errorf("b.yaml at merge base %q, at base %q", old, cur)
		}
		res, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 3\n", "web", "1", "3"), st.Head)
		if err != nil || !res.Pushed {
			t.Fatalf("Publish = %+v, %v", res, err)
		}
		log := s.Log(t, "fleet", "imagebump/web")
		if log[0].Hash != res.Head || log[0].Parents[0] != newBase || s.ReadFile(t, "fleet", "imagebump/web", "b.yaml") != "b: 2\n" {
			t.Errorf("branch is %+v, want one commit on %s", log[0], newBase)
		}
		pub = res
	})

	t.Run("stale lease: nothing overwritten", func(t *testing.T) {
		foreign := s.Commit(t, "fleet", "imagebump/web", "fix by hand", map[string]string{"a.yaml": "a: 99\n"})
		_, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 4\n", "web", "1", "4"), pub.Head)
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Publish with a stale lease = %v, want ErrLeaseLost", err)
		}
		if got := s.Ref(t, "fleet", "refs/heads/imagebump/web"); got != foreign {
			t.Errorf("branch = %s, want the foreign commit %s kept", got, foreign)
		}
		if _, err := r.Publish(ctx, bb("other"), change("a.yaml", "a: 4\n", "web", "1", "4"), ""); err != nil {
			t.Errorf("Publish of a new branch: %v", err)
		}
		if _, err := r.Publish(ctx, bb("other"), change("a.yaml", "a: 5\n", "web", "1", "5"), ""); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Publish over an existing branch without a lease = %v, want ErrLeaseLost", err)
		}
	})
}

func TestForeignCommits(t *testing.T) {
	s, r := prSetup(t)
	ctx := context.Background()
	pub, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 2\n", "web", "1", "2"), "")
	if err != nil {
		t.Fatal(err)
	}
	botLike := gitserver.Signature{Name: "imagebump", Email: bot.Email}
	tests := []struct {
		name   string
		commit func() string
	}{
		{"a person's commit", func() string {
			return s.Commit(t, "fleet", "imagebump/web", "fix by hand", map[string]string{"b.yaml": "b: 9\n"})
		}},
		{"the bot's email without the trailer", func() string {
			return s.CommitAs(t, "fleet", "imagebump/web", botLike, "looks like the bot", map[string]string{"b.yaml": "b: 10\n"})
		}},
		{"the trailer from someone else", func() string {
			return s.Commit(t, "fleet", "imagebump/web", "copied\n\n"+Trailer, map[string]string{"b.yaml": "b: 11\n"})
		}},
		{"a bot commit someone amended", func() string {
			return s.CommitBy(t, "fleet", "imagebump/web", botLike, gitserver.Another, "Update web\n\n"+Trailer, map[string]string{"b.yaml": "b: 12\n"})
		}},
	}
	var want []bool
	want = append(want, true)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.commit()
			st, err := r.Branch(ctx, "imagebump/web")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, false)
			var got []bool
			for _, c := range st.Commits {
				got = append(got, c.ByBot)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ByBot of each commit (-want +got):\n%s", diff)
			}
			if last := st.Commits[len(st.Commits)-1]; last.Hash != h || st.Commits[0].Hash != pub.Head {
				t.Errorf("commits %+v, want %s first and %s last", st.Commits, pub.Head, h)
			}
		})
	}
}

func TestRefusesNonBotBranches(t *testing.T) {
	s, r := prSetup(t)
	ctx := context.Background()
	main := s.Ref(t, "fleet", "refs/heads/main")
	s.Commit(t, "fleet", "release", "release", map[string]string{"r": "1\n"})
	for _, name := range []string{"main", "release", "imagebump/", "imagebumpx/web", "imagebump/a..b"} {
		t.Run(name, func(t *testing.T) {
			b := BotBranch{Prefix: "imagebump/", Name: name}
			if _, err := r.Publish(ctx, b, change("a.yaml", "a: 2\n", "web", "1", "2"), main); err == nil {
				t.Errorf("Publish to %s succeeded", name)
			}
			if err := r.DeleteBranch(ctx, b, ""); err == nil {
				t.Errorf("DeleteBranch of %s succeeded", name)
			}
		})
	}
	if got := s.Ref(t, "fleet", "refs/heads/main"); got != main {
		t.Errorf("main moved to %s", got)
	}
	if s.Ref(t, "fleet", "refs/heads/release") == "" {
		t.Error("release was deleted")
	}
}

func TestDeleteBranch(t *testing.T) {
	s, r := prSetup(t)
	ctx := context.Background()
	pub, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 2\n", "web", "1", "2"), "")
	if err != nil {
		t.Fatal(err)
	}
	foreign := s.Commit(t, "fleet", "imagebump/web", "by hand", map[string]string{"b.yaml": "b: 3\n"})
	if err := r.DeleteBranch(ctx, bb("web"), pub.Head); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("DeleteBranch with a stale lease = %v, want ErrLeaseLost", err)
	}
	if s.Ref(t, "fleet", "refs/heads/imagebump/web") != foreign {
		t.Fatal("branch deleted or moved despite the stale lease")
	}
	if err := r.DeleteBranch(ctx, bb("web"), foreign); err != nil {
		t.Fatalf("DeleteBranch: %v", err)
	}
	if got := s.Ref(t, "fleet", "refs/heads/imagebump/web"); got != "" {
		t.Errorf("branch still at %s", got)
	}
	if err := r.DeleteBranch(ctx, bb("web"), ""); err != nil {
		t.Errorf("DeleteBranch of a gone branch: %v", err)
	}
}

// bb is the bot branch imagebump/name.
func bb(name string) BotBranch { return BotBranch{Prefix: "imagebump/", Name: "imagebump/" + name} }

func TestBranchPrefix(t *testing.T) {
	s, r := prSetup(t)
	ctx := context.Background()
	main := s.Ref(t, "fleet", "refs/heads/main")
	for _, bad := range []string{"", "a..b/", "a b/", "x~/"} {
		if _, err := r.Publish(ctx, BotBranch{Prefix: bad, Name: bad + "web"}, change("a.yaml", "a: 2\n", "web", "1", "2"), ""); err == nil {
			t.Errorf("Publish under prefix %q succeeded", bad)
		}
	}
	if _, err := r.Publish(ctx, BotBranch{Prefix: "deps/", Name: "imagebump/web"}, change("a.yaml", "a: 2\n", "web", "1", "2"), ""); err == nil {
		t.Error("Publish of a branch outside its prefix succeeded")
	}
	if _, err := r.Publish(ctx, BotBranch{Prefix: "deps/", Name: "deps/web"}, change("a.yaml", "a: 2\n", "web", "1", "2"), ""); err != nil {
		t.Errorf("Publish under the prefix deps/: %v", err)
	}
	if got := s.Ref(t, "fleet", "refs/heads/main"); got != main {
		t.Errorf("main moved to %s", got)
	}
}

// A base branch under the bot's prefix would be the bot's to force-push
// and delete: every branch operation is refused, whatever the branch.
func TestBaseUnderBranchPrefix(t *testing.T) {
	for _, tc := range []struct {
		name             string
		base, pushBranch string
	}{
		{"base", "bot/main", ""},
		{"push branch", "main", "bot/auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.Start(t)
			s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
			s.Commit(t, "fleet", "bot/main", "base", map[string]string{"a.yaml": "a: 1\n"})
			o := tokenOptions(t, s, "fleet", t.TempDir(), nil)
			o.Branch, o.PushBranch = tc.base, tc.pushBranch
			r := mustNew(t, o)
			mustSync(t, r)
			ctx := context.Background()
			b := BotBranch{Prefix: "bot/", Name: "bot/web"}
			_, err := r.Publish(ctx, b, change("a.yaml", "a: 2\n", "web", "1", "2"), "")
			if err == nil || !strings.Contains(err.Error(), "lies under the bot's branch prefix") {
				t.Errorf("Publish with the base under the prefix = %v, want a refusal", err)
			}
			if err := r.DeleteBranch(ctx, BotBranch{Prefix: "bot/", Name: "bot/main"}, ""); err == nil {
				t.Error("DeleteBranch of the base succeeded")
			}
			if s.Ref(t, "fleet", "refs/heads/bot/web") != "" || s.Ref(t, "fleet", "refs/heads/bot/main") == "" {
				t.Error("the server's branches changed")
			}
		})
	}
}
