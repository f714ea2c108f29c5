package gitwriter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
)

// decline is a pre-receive hook that refuses every update with a message,
// as a forge's branch protection does.
const decline = `echo "GitLab: You are not allowed to push code to protected branches on this project." >&2
exit 1`

// protectMain refuses updates of main only.
const protectMain = `while read old new ref; do
  if [ "$ref" = refs/heads/main ]; then echo "main is protected: open a pull request" >&2; exit 1; fi
done`

// TestPushOutcomes pins, against git http-backend, which of the three
// outcomes each way a ref update fails is: the remote moved (re-plan and
// retry), a lease lost, refused by the server (no retry, its message kept).
func TestPushOutcomes(t *testing.T) {
	type outcome int
	const (
		ok outcome = iota
		moved
		leaseLost
		refused
	)
	for _, tc := range []struct {
		name string
		// hook is the repository's pre-receive hook.
		hook string
		// moveOn says at which request of the update someone else commits
		// on moveBranch (once); nil: nobody does.
		moveOn     func(gitserver.Request) bool
		moveBranch string
		// do is the update, on a working copy synced to main with the bot
		// branch imagebump/web published at pub.
		do   func(ctx context.Context, r *Repo, pub string, rebuild RebuildFunc) error
		want outcome
		// wantMessage is part of the server's message the error must hold.
		wantMessage string
		// wantPosts is how many pushes the server received: a refused one
		// is never sent again.
		wantPosts int
	}{
		{
			name:        "push declined by a pre-receive hook",
			hook:        decline,
			do:          push,
			want:        refused,
			wantMessage: "You are not allowed to push code to protected branches",
			wantPosts:   1,
		},
		{
			name:   "push after the remote moved before the advertisement",
			moveOn: beforeAdvert, moveBranch: "main",
			do:        pushOnce,
			want:      moved,
			wantPosts: 0, // go-git sees the move in the advertisement and sends nothing
		},
		{
			name:   "push after the remote moved between advertisement and pack",
			moveOn: beforePack, moveBranch: "main",
			do:        pushOnce,
			want:      moved,
			wantPosts: 1,
		},
		{
			name:      "a hook protecting main lets the bot branch through",
			hook:      protectMain,
			do:        publish,
			want:      ok,
			wantPosts: 1,
		},
		{
			name:        "publish declined by a pre-receive hook",
			hook:        decline,
			do:          publish,
			want:        refused,
			wantMessage: "You are not allowed to push code to protected branches",
			wantPosts:   1,
		},
		{
			name:   "publish with a lease someone else moved",
			moveOn: beforeAdvert, moveBranch: "imagebump/web",
			do:        publish,
			want:      leaseLost,
			wantPosts: 0,
		},
		{
			name:   "publish with a lease moved between advertisement and pack",
			moveOn: beforePack, moveBranch: "imagebump/web",
			do:        publish,
			want:      leaseLost,
			wantPosts: 1,
		},
		{
			name:        "delete declined by a pre-receive hook",
			hook:        decline,
			do:          deleteWeb,
			want:        refused,
			wantMessage: "You are not allowed to push code to protected branches",
			wantPosts:   1,
		},
		{
			name:   "delete with a lease someone else moved",
			moveOn: beforeAdvert, moveBranch: "imagebump/web",
			do:        deleteWeb,
			want:      leaseLost,
			wantPosts: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r, pub := publishedWeb(t)
			ctx := context.Background()
			s.SetPreReceive(t, "fleet", tc.hook)
			var once atomic.Bool
			if tc.moveOn != nil {
				s.SetHook(func(req gitserver.Request) {
					if tc.moveOn(req) && once.CompareAndSwap(false, true) {
						s.Commit(t, "fleet", tc.moveBranch, "someone else", map[string]string{"other.yaml": "o: 1\n"})
					}
				})
			}
			s.ResetTraffic()
			var rebuilds atomic.Int32
			rebuild := func(context.Context, string) (ChangeSet, error) {
				rebuilds.Add(1)
				return change("a.yaml", "a: 2\n", "web", "1", "2"), nil
			}
			err := tc.do(ctx, r, pub, rebuild)

			var re *RefusedError
			gotRefused := errors.As(err, &re)
			switch tc.want {
			case ok:
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
			case moved:
				if !errors.Is(err, ErrPushRejected) || errors.Is(err, ErrLeaseLost) || gotRefused {
					t.Errorf("got %v, want ErrPushRejected alone", err)
				}
			case leaseLost:
				if !errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrPushRejected) || gotRefused {
					t.Errorf("got %v, want ErrLeaseLost alone", err)
				}
			case refused:
				if !gotRefused || !errors.Is(err, ErrRefused) || errors.Is(err, ErrPushRejected) || errors.Is(err, ErrLeaseLost) {
					t.Errorf("got %v, want a *RefusedError alone", err)
				}
				if gotRefused && (!strings.Contains(re.Message, tc.wantMessage) || !strings.Contains(err.Error(), tc.wantMessage)) {
					t.Errorf("refusal %q (message %q) lacks the server's message %q", err, re.Message, tc.wantMessage)
				}
				if err != nil && strings.Contains(err.Error(), s.Token) {
					t.Errorf("refusal %q holds the token", err)
				}
				if n := rebuilds.Load(); n != 0 {
					t.Errorf("a refused push was re-planned %d times", n)
				}
			}
			if got := s.Traffic().ReceivePackPosts; got != tc.wantPosts {
				t.Errorf("the server received %d pushes, want %d", got, tc.wantPosts)
			}
		})
	}
}

// beforeAdvert moves the branch before the push reads the refs: go-git
// itself sees the move.
func beforeAdvert(r gitserver.Request) bool { return r.Service == "git-receive-pack" && r.Advertise }

// beforePack moves it after the refs were read and before the update: the
// server refuses the update as its old value is stale.
func beforePack(r gitserver.Request) bool { return r.Service == "git-receive-pack" && !r.Advertise }

// push is Push with a rebuild: a push the remote rejects because it moved
// is tried again.
func push(ctx context.Context, r *Repo, _ string, rebuild RebuildFunc) error {
	_, err := r.Push(ctx, change("a.yaml", "a: 3\n", "web", "1", "3"), rebuild)
	return err
}

// pushOnce is Push without a rebuild: one attempt whatever happens.
func pushOnce(ctx context.Context, r *Repo, _ string, _ RebuildFunc) error {
	_, err := r.Push(ctx, change("a.yaml", "a: 3\n", "web", "1", "3"), nil)
	return err
}

// publish rebuilds the bot branch imagebump/web over the head pub.
func publish(ctx context.Context, r *Repo, pub string, _ RebuildFunc) error {
	_, err := r.Publish(ctx, bb("web"), change("a.yaml", "a: 3\n", "web", "1", "3"), pub)
	return err
}

// deleteWeb deletes the bot branch imagebump/web at the head pub.
func deleteWeb(ctx context.Context, r *Repo, pub string, _ RebuildFunc) error {
	return r.DeleteBranch(ctx, bb("web"), pub)
}

// A branch someone else deletes while the bot deletes it is gone, as
// wanted: not a refusal, not a lost lease.
func TestDeleteRacingDelete(t *testing.T) {
	for _, tc := range []struct {
		name   string
		moveOn func(gitserver.Request) bool
		leased bool
	}{
		{"leased, deleted before the advertisement", beforeAdvert, true},
		{"leased, deleted between advertisement and pack", beforePack, true},
		{"any head, deleted between advertisement and pack", beforePack, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r, pub := publishedWeb(t)
			ctx := context.Background()
			var once atomic.Bool
			s.SetHook(func(req gitserver.Request) {
				if tc.moveOn(req) && once.CompareAndSwap(false, true) {
					s.Git(t, "fleet", "update-ref", "-d", "refs/heads/imagebump/web")
				}
			})
			lease := ""
			if tc.leased {
				lease = pub
			}
			if err := r.DeleteBranch(ctx, bb("web"), lease); err != nil {
				t.Errorf("DeleteBranch = %v, want nil: the branch is gone", err)
			}
			if !once.Load() {
				t.Error("the race did not happen")
			}
		})
	}
}

// publishedWeb is a working copy synced to main of a new repository, with
// the bot branch imagebump/web published; it returns the head published.
func publishedWeb(t *testing.T) (*gitserver.Server, *Repo, string) {
	t.Helper()
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	mustSync(t, r)
	pub, err := r.Publish(context.Background(), bb("web"), change("a.yaml", "a: 2\n", "web", "1", "2"), "")
	if err != nil {
		t.Fatal(err)
	}
	return s, r, pub.Head
}

// A connection that breaks while pushing is neither a race nor a refusal:
// the error is go-git's, and nothing is retried.
func TestPushConnectionLost(t *testing.T) {
	s, r, _ := publishedWeb(t)
	var once atomic.Bool
	s.SetHook(func(req gitserver.Request) {
		if beforePack(req) && once.CompareAndSwap(false, true) {
			panic(http.ErrAbortHandler) // drops the connection
		}
	})
	s.ResetTraffic()
	var rebuilds atomic.Int32
	_, err := r.Push(context.Background(), change("a.yaml", "a: 3\n", "web", "1", "3"), func(context.Context, string) (ChangeSet, error) {
		rebuilds.Add(1)
		return ChangeSet{}, nil
	})
	if err == nil || errors.Is(err, ErrPushRejected) || errors.Is(err, ErrRefused) || errors.Is(err, ErrLeaseLost) {
		t.Errorf("Push over a dropped connection = %v, want go-git's error alone", err)
	}
	if rebuilds.Load() != 0 {
		t.Errorf("re-planned %d times", rebuilds.Load())
	}
}
