package gitlab

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// TestOpenPullRequests lists the project's open merge requests whatever
// their branch: closed ones and those from forks (which GitLab lists too,
// with the bot's branch name or not) are left out.
func TestOpenPullRequests(t *testing.T) {
	s, c := fixture(t)
	ctx := context.Background()
	s.ForkMergeRequest("imagebump/web", "Update web to 9", "from a fork")
	create := func() {
		t.Helper()
		if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	create()
	if err := c.Close(ctx, 1, "b"); err != nil {
		t.Fatal(err)
	}
	create()
	prs, err := c.OpenPullRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, pr := range prs {
		got = append(got, pr.Number)
		if pr.Head != "imagebump/web" || pr.State != pullrequest.StateOpen {
			t.Errorf("merge request %+v: want open from imagebump/web", pr)
		}
	}
	if diff := cmp.Diff([]int{2}, got); diff != "" {
		t.Errorf("open merge requests (-want +got):\n%s", diff)
	}
}
