package pullrequest_test

import (
	"fmt"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// A dry run decides and prints; nothing is pushed or written.
func ExampleDecide() {
	web := pullrequest.Group{
		Name:    "web",
		Branch:  "imagebump/web",
		Changes: []pullrequest.Change{{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.2", To: "1.5.0", Files: []string{"apps/web/deployment.yaml"}}},
		Files:   []pullrequest.File{{Path: "apps/web/deployment.yaml", Content: []byte("image: ghcr.io/acme/web:1.5.0\n")}},
	}
	declined := pullrequest.PullRequest{
		Number: 4, State: pullrequest.StateClosed, Head: "imagebump/web",
		Body: pullrequest.Body(web, 0), // a human closed the proposal of 1.5.0
	}
	ds, err := pullrequest.Decide([]pullrequest.Group{web}, []pullrequest.PullRequest{declined}, nil, pullrequest.Settings{Base: "main"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range ds {
		fmt.Printf("%s: %s: %s\n", d.Group, d.Action, d.Reason)
	}
	// Output:
	// web: skip: pull request #4 proposing these versions was closed without merging; they are not proposed again
}
