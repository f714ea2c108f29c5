package bot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

// fakeCopy is a hand-written WorkingCopy over a plain directory, for the
// push-mode logic; the end-to-end tests in test/ use gitwriter against a
// real git server. Its Push writes the commit's files into the directory;
// when race is set, the first push is "rejected" after race has changed the
// tree, as another client pushing first would, and the commit is rebuilt.
type fakeCopy struct {
	dir    string
	syncs  int
	race   func(dir string)
	pushes []gitwriter.ChangeSet
	// stall makes Sync wait until its context is done.
	stall bool
	// skipped is what Sync says it did not check out.
	skipped []gitwriter.SkippedPath
}

func (f *fakeCopy) Sync(ctx context.Context) (gitwriter.SyncResult, error) {
	f.syncs++
	if f.stall {
		<-ctx.Done()
		return gitwriter.SyncResult{}, ctx.Err()
	}
	return gitwriter.SyncResult{Skipped: f.skipped}, nil
}

func (f *fakeCopy) Dir() string { return f.dir }

func (f *fakeCopy) Push(ctx context.Context, cs gitwriter.ChangeSet, rebuild gitwriter.RebuildFunc) (gitwriter.PushResult, error) {
	attempts := 1
	if f.race != nil {
		f.race(f.dir)
		f.race = nil
		var err error
		if cs, err = rebuild(ctx, f.dir); err != nil {
			return gitwriter.PushResult{}, err
		}
		attempts++
	}
	if len(cs.Files) == 0 {
		return gitwriter.PushResult{Branch: "main", Attempts: attempts, Unchanged: true}, nil
	}
	for _, fc := range cs.Files {
		if err := os.WriteFile(filepath.Join(f.dir, fc.Path), fc.Content, 0o644); err != nil {
			return gitwriter.PushResult{}, err
		}
	}
	f.pushes = append(f.pushes, cs)
	return gitwriter.PushResult{Commit: "abc123", Branch: "main", Attempts: attempts}, nil
}

var errNoBranches = errors.New("fakeCopy has no branches")

func (f *fakeCopy) Branches(context.Context, string) (map[string]string, error) {
	return nil, nil
}

func (f *fakeCopy) Branch(context.Context, string) (gitwriter.BranchState, error) {
	return gitwriter.BranchState{}, errNoBranches
}

func (f *fakeCopy) ReadFile(string, string) ([]byte, error) { return nil, errNoBranches }

func (f *fakeCopy) Publish(context.Context, gitwriter.BotBranch, gitwriter.ChangeSet, string) (gitwriter.PublishResult, error) {
	return gitwriter.PublishResult{}, errNoBranches
}

func (f *fakeCopy) DeleteBranch(context.Context, gitwriter.BotBranch, string) error {
	return errNoBranches
}

func runner(t *testing.T, mode config.Mode, wc *fakeCopy, dryRun bool) *Runner {
	t.Helper()
	return &Runner{
		Config:   &config.Bot{Repositories: []config.Repository{{URL: "https://git.example/acme/fleet.git", Branch: "main", Mode: mode}}},
		Registry: newClient(t),
		Open:     func(config.Repository) (WorkingCopy, error) { return wc, nil },
		DryRun:   dryRun,
	}
}

func TestPushPass(t *testing.T) {
	manifest := "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n"
	tests := []struct {
		name       string
		dryRun     bool
		race       func(dir string)
		wantPushes int
		wantFile   string
		wantChange []gitwriter.Change
	}{{
		name:       "a change is pushed as one commit",
		wantPushes: 1,
		wantFile:   "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		wantChange: []gitwriter.Change{{File: "deploy.yaml", Image: "ghcr.io/acme/web", Policy: "web", Field: "ref", Old: "ghcr.io/acme/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"}},
	}, {
		name:     "a dry run pushes nothing",
		dryRun:   true,
		wantFile: manifest,
	}, {
		name: "a rejected push is re-planned on the new tip",
		race: func(dir string) {
			// Someone else bumped to 1.4.3 and added a second marked file.
			os.WriteFile(filepath.Join(dir, "deploy.yaml"), []byte(strings.Replace(manifest, "1.4.2", "1.4.3", 1)), 0o644)
			os.WriteFile(filepath.Join(dir, "other.yaml"), []byte(manifest), 0o644)
		},
		wantPushes: 1,
		wantFile:   "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		wantChange: []gitwriter.Change{
			{File: "deploy.yaml", Image: "ghcr.io/acme/web", Policy: "web", Field: "ref", Old: "ghcr.io/acme/web:1.4.3", New: "ghcr.io/acme/web:1.5.0"},
			{File: "other.yaml", Image: "ghcr.io/acme/web", Policy: "web", Field: "ref", Old: "ghcr.io/acme/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"},
		},
	}, {
		name: "a rejected push whose change someone else made pushes nothing",
		race: func(dir string) {
			os.WriteFile(filepath.Join(dir, "deploy.yaml"), []byte(strings.Replace(manifest, "1.4.2", "1.5.0", 1)), 0o644)
		},
		wantFile: "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, map[string]string{
				".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
				"deploy.yaml":     manifest,
			})
			wc := &fakeCopy{dir: dir, race: tc.race}
			r := runner(t, config.Push, wc, tc.dryRun)
			reg := newFake()
			pass := func(ctx context.Context, i int) Result {
				return r.pass(ctx, dedupe(reg), r.Config.Repositories[i])
			}
			res := pass(context.Background(), 0)
			if res.Err != nil || res.Failed() {
				t.Fatalf("pass failed: %v %+v", res.Err, res.Policies)
			}
			if res.Duration <= 0 || res.Started.IsZero() {
				t.Errorf("Started %v, Duration %v; want the pass timed", res.Started, res.Duration)
			}
			if wc.syncs != 1 {
				t.Errorf("%d syncs, want 1", wc.syncs)
			}
			if len(wc.pushes) != tc.wantPushes {
				t.Fatalf("%d pushes, want %d", len(wc.pushes), tc.wantPushes)
			}
			if got := filetree.Read(t, dir)["deploy.yaml"]; got != tc.wantFile {
				t.Errorf("deploy.yaml = %q, want %q", got, tc.wantFile)
			}
			if tc.wantPushes > 0 {
				if diff := cmp.Diff(tc.wantChange, wc.pushes[0].Changes); diff != "" {
					t.Errorf("pushed changes (-want +got):\n%s", diff)
				}
				if res.Pushed == nil || res.Pushed.Commit == "" {
					t.Errorf("Result.Pushed = %+v, want the pushed commit", res.Pushed)
				}
			} else if res.Pushed != nil && res.Pushed.Commit != "" {
				t.Errorf("Result.Pushed = %+v, want no commit", res.Pushed)
			}
		})
	}
}

// TestPassCurrentValues checks Runner.Status: the values the markers hold
// are gathered for the status page (the daemon) and for a dashboard
// issue, and not when nothing shows them (run --once), which saves the
// parse of every marked file.
func TestPassCurrentValues(t *testing.T) {
	manifest := "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n"
	want := []Value{{File: "deploy.yaml", Line: 1, Policy: "web", Field: "ref", Value: "ghcr.io/acme/web:1.5.0"}}
	for _, tc := range []struct {
		name      string
		status    bool
		dashboard bool
		want      []Value
	}{
		{name: "status page", status: true, want: want},
		{name: "nothing shows them"},
		{name: "dashboard issue", dashboard: true, want: want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pols := "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n"
			if tc.dashboard {
				pols += "dashboard: {enabled: true}\n"
			}
			dir := filetree.Write(t, map[string]string{".imagebump.yaml": pols, "deploy.yaml": manifest})
			r := runner(t, config.Push, &fakeCopy{dir: dir}, false)
			r.Status = tc.status
			res := r.pass(context.Background(), dedupe(newFake()), r.Config.Repositories[0])
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if diff := cmp.Diff(tc.want, res.Current); diff != "" {
				t.Errorf("Result.Current (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPassInvalidPolicies(t *testing.T) {
	dir := filetree.Write(t, map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    nope: 1\n"})
	wc := &fakeCopy{dir: dir}
	r := runner(t, config.Push, wc, false)
	res := r.pass(context.Background(), newFake(), r.Config.Repositories[0])
	var problems problem.List
	if !res.Invalid || !errors.As(res.Err, &problems) {
		t.Fatalf("Invalid = %v, Err = %v; want invalid policy files", res.Invalid, res.Err)
	}
	if len(wc.pushes) != 0 {
		t.Errorf("pushed %d commits with invalid policy files", len(wc.pushes))
	}
}
