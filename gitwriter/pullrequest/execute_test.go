package pullrequest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBudgetIsShared(t *testing.T) {
	b := &Budget{Max: time.Minute}
	sleep := WithSleep(func(context.Context, time.Duration) error { return nil })
	limited := func() error { return &RateLimitError{RetryAfter: 40 * time.Second} }
	first := &waiter{options: newOptions([]Option{WithBudget(b), sleep})}
	calls := 0
	if err := first.do(context.Background(), "reading", func() error {
		calls++
		if calls == 1 {
			return limited()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	second := &waiter{options: newOptions([]Option{WithBudget(b), sleep})}
	if err := second.do(context.Background(), "writing", limited); err == nil {
		t.Error("second call waited 40s more on a shared 1m budget with 40s spent")
	}
	if b.Waited() != 40*time.Second {
		t.Errorf("Waited = %s, want 40s", b.Waited())
	}
}

func TestWaiter(t *testing.T) {
	limited := func(d time.Duration) error {
		return fmt.Errorf("wrapped: %w", &RateLimitError{RetryAfter: d, Err: errors.New("403")})
	}
	tests := []struct {
		name      string
		maxWait   time.Duration
		answers   []error // one per call; nil after the last
		wantCalls int
		wantSlept []time.Duration
		wantErr   bool
	}{
		{name: "no limit", maxWait: time.Minute, wantCalls: 1},
		{name: "waited out", maxWait: time.Minute, answers: []error{limited(20 * time.Second), limited(30 * time.Second)}, wantCalls: 3, wantSlept: []time.Duration{20 * time.Second, 30 * time.Second}},
		{name: "beyond the bound fails at once, without waiting", maxWait: time.Minute, answers: []error{limited(61 * time.Second)}, wantCalls: 1, wantErr: true},
		{name: "bound is for all waits together", maxWait: time.Minute, answers: []error{limited(40 * time.Second), limited(40 * time.Second)}, wantCalls: 2, wantSlept: []time.Duration{40 * time.Second}, wantErr: true},
		{name: "retry after 0 still waits a little", maxWait: time.Minute, answers: []error{limited(0)}, wantCalls: 2, wantSlept: []time.Duration{time.Second}},
		{name: "other errors are not retried", maxWait: time.Minute, answers: []error{errors.New("500")}, wantCalls: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var slept []time.Duration
			w := &waiter{options: newOptions([]Option{WithMaxWait(tc.maxWait), WithSleep(func(_ context.Context, d time.Duration) error {
				slept = append(slept, d)
				return nil
			})})}
			calls := 0
			err := w.do(context.Background(), "calling", func() error {
				calls++
				if calls <= len(tc.answers) {
					return tc.answers[calls-1]
				}
				return nil
			})
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if diff := cmp.Diff(tc.wantSlept, slept); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// deletes records the branch deletions Execute asks for.
type deletes struct{ got []string }

func (d *deletes) Publish(context.Context, Push) (string, error) {
	return "", errors.New("no pushes in this test")
}

func (d *deletes) Delete(_ context.Context, branch, lease string) error {
	d.got = append(d.got, branch+"@"+lease)
	return nil
}

func TestExecuteDeleteBranch(t *testing.T) {
	ds, err := Decide([]Group{gone("web")}, nil, map[string]Branch{"imagebump/web": carrying(web("1.5.0"))}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	var b deletes
	// No forge: deleting a branch writes only to git.
	res := Execute(context.Background(), ds, nil, &b)
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("Execute = %+v", res)
	}
	if diff := cmp.Diff([]string{"imagebump/web@h1.5.0"}, b.got); diff != "" {
		t.Errorf("deletions (-want +got):\n%s", diff)
	}
}

func TestObsoleteCloseSaysWhy(t *testing.T) {
	ds, err := Decide([]Group{gone("web")}, []PullRequest{openPR(7, web("1.5.0"))}, map[string]Branch{"imagebump/web": carrying(web("1.5.0"))}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	if d.Action != ActionClose || !strings.Contains(d.Comment, gone("web").Obsolete) || !strings.Contains(d.Comment, closeNote) {
		t.Errorf("close of an obsolete group: %s with comment %q; want the reason and the close note", d.Action, d.Comment)
	}
	if m, ok := ParseMarker(d.Body); !ok || !m.Retired {
		t.Errorf("closed body %q: want a retired marker", d.Body)
	}
}

// reviewForge opens pull request 1 and answers review requests with
// reviewErrs in turn (nil after the last); it records comments.
type reviewForge struct {
	reviewErrs []error
	commentErr error
	reviews    int
	comments   []string
}

func (f *reviewForge) Create(context.Context, NewPullRequest) (PullRequest, error) {
	return PullRequest{Number: 1, State: StateOpen}, nil
}
func (f *reviewForge) Label(context.Context, int, []string) error { return nil }
func (f *reviewForge) RequestReviews(context.Context, int, []string, []string) error {
	f.reviews++
	if f.reviews <= len(f.reviewErrs) {
		return f.reviewErrs[f.reviews-1]
	}
	return nil
}
func (f *reviewForge) Edit(context.Context, int, string, string) error { return nil }
func (f *reviewForge) Close(context.Context, int, string) error        { return nil }
func (f *reviewForge) Comment(_ context.Context, _ int, body string) error {
	if f.commentErr != nil {
		return f.commentErr
	}
	f.comments = append(f.comments, body)
	return nil
}

// TestExecuteReviewersNotAsked checks that a review request the forge
// refused in part, or that was cut short, never fails the pull request:
// it is reported once in Result.Warnings and once in a comment.
func TestExecuteReviewersNotAsked(t *testing.T) {
	refused := &ReviewersError{Refused: []string{"`bob`: not a collaborator"}, Hint: "check the reviewers"}
	limited := &RateLimitError{RetryAfter: time.Hour, Err: errors.New("403 secondary rate limit")}
	for _, tc := range []struct {
		name         string
		reviewErrs   []error
		commentErr   error
		wantN        int      // warnings
		wantWarnings []string // what the warnings say together
		wantComment  []string // the one comment contains these; nil: no comment
	}{
		{name: "all asked"},
		{name: "some refused", reviewErrs: []error{refused}, wantN: 1, wantWarnings: []string{"#1: reviewers not requested", "`bob`: not a collaborator"}, wantComment: []string{"- `bob`: not a collaborator", "check the reviewers"}},
		{name: "cut short by a rate limit beyond the budget", reviewErrs: []error{limited}, wantN: 1, wantWarnings: []string{"#1: reviewers not requested", "403 secondary rate limit"}, wantComment: []string{"could not request the reviews", "403 secondary rate limit"}},
		{name: "failed", reviewErrs: []error{errors.New("502 bad gateway")}, wantN: 1, wantWarnings: []string{"502 bad gateway"}, wantComment: []string{"502 bad gateway"}},
		{name: "the comment fails too", reviewErrs: []error{refused}, commentErr: errors.New("500"), wantN: 2, wantWarnings: []string{"`bob`", "saying so in a comment: 500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &reviewForge{reviewErrs: tc.reviewErrs, commentErr: tc.commentErr}
			d := Decision{Group: "web", Branch: "imagebump/web", Action: ActionCreate, Open: &NewPullRequest{Head: "imagebump/web", Title: "t", Reviewers: []string{"alice", "bob"}}}
			res := Execute(context.Background(), []Decision{d}, f, &deletes{}, WithMaxWait(time.Minute), WithSleep(func(context.Context, time.Duration) error { return nil }))
			if len(res) != 1 || res[0].Err != nil {
				t.Fatalf("Execute = %+v, want the pull request opened without an error", res)
			}
			got := res[0].Warnings
			if len(got) != tc.wantN {
				t.Fatalf("warnings %q, want %d saying %q", got, tc.wantN, tc.wantWarnings)
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.wantWarnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q do not say %q", got, w)
				}
			}
			if tc.wantComment == nil {
				if len(f.comments) != 0 {
					t.Errorf("comments %q, want none", f.comments)
				}
				return
			}
			if len(f.comments) != 1 {
				t.Fatalf("comments %q, want one", f.comments)
			}
			for _, w := range tc.wantComment {
				if !strings.Contains(f.comments[0], w) {
					t.Errorf("comment %q does not say %q", f.comments[0], w)
				}
			}
		})
	}
}
