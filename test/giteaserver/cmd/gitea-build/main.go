// Command gitea-build builds the Gitea the tests run (or finds it in the
// cache) before the tests start, so that a cold build, which takes minutes,
// runs outside go test's per-package timeout. .ci/run calls it.
package main

import (
	"fmt"
	"os"

	"github.com/imagebump/imagebump/test/giteaserver"
)

func main() {
	b, err := giteaserver.BuildOrReuse()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gitea-build: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("gitea for tests: %+v\n", b)
}
