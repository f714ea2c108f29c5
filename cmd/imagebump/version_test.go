package main

import (
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVersionOf(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name                string
		version, commit     string // stamped with -X
		info                *debug.BuildInfo
		wantVersion, wantCo string
	}{
		{"stamped by make build-static", "v1.2.3", "abc", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs("def", "false")}, "v1.2.3", "abc"},
		{"go install module@version", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3", "unknown"},
		{"go build in a checkout", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201164705-87c20caee44c"}, Settings: vcs("87c20caee44ce476facd7edc1370f877b8b9418d", "false")}, "v0.0.0-20261201164705-87c20caee44c", "87c20caee44ce476facd7edc1370f877b8b9418d"},
		{"go build with changes", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201164705-87c20caee44c+dirty"}, Settings: vcs("87c20ca", "true")}, "v0.0.0-20261201164705-87c20caee44c+dirty", "87c20ca (modified)"},
		{"devel without vcs (go test, go run)", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "unknown"},
		{"no build info", "", "", nil, "dev", "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, c := versionOf(tc.version, tc.commit, tc.info)
			if diff := cmp.Diff([]string{tc.wantVersion, tc.wantCo}, []string{v, c}); diff != "" {
				t.Errorf("versionOf (-want +got):\n%s", diff)
			}
		})
	}
}
