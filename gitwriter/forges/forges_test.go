package forges

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAll checks the table cmd hands to config and bot: well formed, the
// forges the README names, and each constructor building a client from an
// API root, a repository path and a token without I/O, and refusing a
// path that names no repository.
func TestAll(t *testing.T) {
	all := All()
	if err := all.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"github", "gitlab", "gitea"}, all.Names()); diff != "" {
		t.Errorf("forges (-want +got):\n%s", diff)
	}
	for _, k := range all {
		t.Run(k.Name, func(t *testing.T) {
			c, err := k.New("http://127.0.0.1:9/api", "acme/fleet", "tok", nil)
			if err != nil || c == nil {
				t.Errorf("New = %v, %v", c, err)
			}
			if _, err := k.New("http://127.0.0.1:9/api", "fleet", "tok", nil); err == nil || !strings.Contains(err.Error(), "fleet") {
				t.Errorf("New with path fleet = %v, want an error naming it", err)
			}
		})
	}
	// What config infers and git sends, per forge.
	type facts struct {
		PublicHost, PublicAPI, TokenUser string
		TeamReviewers, Draft, Namespaces bool
	}
	got := map[string]facts{}
	for _, k := range all {
		got[k.Name] = facts{k.PublicHost, k.PublicAPI, k.TokenUser, k.TeamReviewers, k.Draft, k.Namespaces}
	}
	want := map[string]facts{
		"github": {PublicHost: "github.com", TeamReviewers: true, Draft: true},
		"gitlab": {PublicHost: "gitlab.com", PublicAPI: "https://gitlab.com/api/v4", TokenUser: "oauth2", Draft: true, Namespaces: true},
		"gitea":  {TeamReviewers: true, Draft: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("forge facts (-want +got):\n%s", diff)
	}
}
