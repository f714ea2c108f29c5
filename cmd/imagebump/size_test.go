package main

import (
	"strings"
	"testing"

	"github.com/imagebump/imagebump/test/filetree"
)

// TestMaxFileSizeFlag: --max-file-size sets the bound above which validate
// and plan (apply shares plan's code) do not read a manifest; a marked
// manifest above it is a problem naming it.
func TestMaxFileSizeFlag(t *testing.T) {
	big := "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n" + strings.Repeat("# padding\n", 300)
	dir := filetree.Write(t, map[string]string{
		".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
		"apps/web.yaml":   big,
	})
	tests := []struct {
		name     string
		command  string
		args     []string
		wantCode int
		want     string // in stdout or stderr
	}{
		{"default bound reads it", "validate", nil, exitOK, "ok: 1 policies in 1 policy files"},
		{"a bound above it reads it", "validate", []string{"--max-file-size", "1MiB"}, exitOK, "1 markers"},
		{"a bound below it", "validate", []string{"--max-file-size", "1KiB"}, exitInvalid, "apps/web.yaml"},
		{"not a size", "validate", []string{"--max-file-size", "lots"}, exitInvalid, `"lots" is not a size`},
		{"below 1KiB", "validate", []string{"--max-file-size", "512"}, exitInvalid, "at least 1KiB"},
		// The unread manifest leaves no marker, so plan asks no registry.
		{"plan with a bound below it", "plan", []string{"--max-file-size", "1KiB"}, exitFailed, "more than the 1KiB bound on manifests"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{tc.command, dir}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q; stdout:\n%s\nstderr:\n%s", code, tc.wantCode, tc.want, out, errOut)
			}
		})
	}
}
