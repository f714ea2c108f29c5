// Package forges is the table of the forges imagebump ships, the one place
// that imports every forge client. cmd hands it to config.LoadBot; bot
// never imports it (test/depcheck_test.go), and reaches a repository's
// client through the forge.Kind config stored.
package forges

import (
	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/gitea"
	"github.com/imagebump/imagebump/gitwriter/github"
	"github.com/imagebump/imagebump/gitwriter/gitlab"
)

// All returns every forge kind imagebump opens pull requests on. A new
// forge is its client package and one line here.
func All() forge.Kinds {
	return forge.Kinds{github.Kind(), gitlab.Kind(), gitea.Kind()}
}
