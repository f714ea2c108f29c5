package pullrequest

import "testing"

// TestDescribe checks the versions log field: two markers of one policy
// that move from different values to one target name it once (issue 16).
func TestDescribe(t *testing.T) {
	changes := []Change{
		{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.1", To: "1.5.0"},
		{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.2", To: "1.5.0"},
		{Policy: "api", Image: "ghcr.io/acme/api", From: "2.0.0", To: "2.1.0"},
	}
	const want = "ghcr.io/acme/api 2.1.0, ghcr.io/acme/web 1.5.0"
	if got := describe(versionsOf(changes)); got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}
