package config

import "testing"

func TestSameRepository(t *testing.T) {
	for _, tc := range []struct {
		a, b     string
		same, ok bool
	}{
		{"https://github.com/acme/fleet.git", "https://github.com/acme/fleet", true, true},
		{"https://github.com/acme/fleet", "ssh://git@github.com/acme/fleet.git", true, true},
		{"git@github.com:acme/fleet.git", "https://GitHub.com/Acme/Fleet/", true, true},
		{"ssh://git@gitlab.example.com:2222/group/sub/app.git", "https://gitlab.example.com/group/sub/app", true, true},
		{"https://github.com/acme/fleet", "https://github.com/acme/other", false, true},
		{"https://github.com/acme/fleet", "https://gitlab.com/acme/fleet", false, true},
		{"https://github.com/acme/fleet", "https://github.com/acme/fleet/apps", false, true},
		{"ssh://git@github.com/${ORG}/fleet", "https://github.com/acme/fleet", false, false},
		{"", "https://github.com/acme/fleet", false, false},
		{"fleet", "https://github.com/acme/fleet", false, false},
	} {
		same, ok := SameRepository(tc.a, tc.b)
		if same != tc.same || ok != tc.ok {
			t.Errorf("SameRepository(%q, %q) = %v, %v; want %v, %v", tc.a, tc.b, same, ok, tc.same, tc.ok)
		}
	}
}
