package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

// runCLI runs the root command as main does and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		wantOut  string
		wantCode int
	}{
		{"clean", map[string]string{
			".imagebump.yaml":          "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"apps/api/.imagebump.yaml": "policies:\n  - {name: api, image: ghcr.io/acme/api, numerical: asc}\n",
			"apps/web.yaml":            "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n",
		}, "ok: 2 policies in 2 policy files, 1 markers\n", 0},
		{"broken", map[string]string{
			".imagebump.yaml":      "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semvar: '^1'\n",
			"apps/.imagebump.yaml": "policies:\n  - name: api\n    image: ghcr.io/acme/api\n    semver: '^1'\n    exclude: ['(']\n",
		}, ".imagebump.yaml:4: unknown field \"semvar\"\napps/.imagebump.yaml:5: policy \"api\": exclude[0]: error parsing regexp: missing closing ): `(`\n", 2},
		{"no policy files", map[string]string{"deploy.yaml": "kind: Deployment\n"}, "ok: 0 policies in 0 policy files, 0 markers\n", 0},
		{"marker problems", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"a.yaml":          "spec: # {\"$imagepolicy\": \"web\"}\n  x: 1\nimage: r:1 # {\"$imagepolicy\": \"wbe:tag\"}\n",
			"chart/t.yaml":    "{{- if .Values.web }}\nimage: r:1 # {\"$imagepolicy\": \"web\"}\n{{- end }}\n",
		}, "a.yaml:1: marker is on a mapping, not on a scalar value; not applied\na.yaml:3: marker names policy \"wbe\", which no policy file defines\nchart/t.yaml: not valid YAML, left untouched: did not find expected node content\n", 2},
		{"warnings only", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"a.yaml":          "a: r:1 # {\"$imagepolicy\": \"web\"}\nb: r:1 # {\"$imagePolicy\": \"web\"}\n",
			"u16.yaml":        "\xff\xfei\x00:\x00 \x00#\x00 \x00{\x00\"\x00$\x00i\x00m\x00a\x00g\x00e\x00p\x00o\x00l\x00i\x00c\x00y\x00\"\x00}\x00",
		}, "a.yaml:2: warning: comment looks like a marker but is not one: the key is \"$imagePolicy\", not \"$imagepolicy\"; not applied\n" +
			"u16.yaml:1: warning: the file is UTF-16 encoded and mentions imagepolicy; markers are read in UTF-8 files only, so none in this file is applied\n" +
			"ok: 1 policies in 1 policy files, 1 markers, 2 warning(s)\n", 0},
		{"warnings and problems", map[string]string{
			".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\n",
			"a.yaml":          "a: r:1 # {\"$imagepolicy\": \"web\"\nb: r:1 # {\"$imagepolicy\": \"wbe\"}\n",
		}, "a.yaml:1: warning: comment looks like a marker but is not one: the JSON object is not closed; not applied\n" +
			"a.yaml:2: marker names policy \"wbe\", which no policy file defines\n", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			out, _, code := runCLI(t, "validate", dir)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown command", []string{"bump"}, `unknown command "bump"`},
		{"unknown flag", []string{"validate", "--nope"}, "unknown flag: --nope"},
		{"too many args", []string{"validate", "a", "b"}, "takes at most 1 argument(s), got 2: a b"},
		{"missing dir", []string{"validate", "/nonexistent/dir"}, "no such file or directory"},
		{"plan missing dir", []string{"plan", "/nonexistent/dir"}, "no such file or directory"},
		{"apply missing dir", []string{"apply", "/nonexistent/dir"}, "no such file or directory"},
		{"plan on a file", []string{"plan", "/etc/hostname"}, "/etc/hostname is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != exitInvalid {
				t.Errorf("exit code %d, want %d", code, exitInvalid)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "imagebump dev\ncommit: unknown\ngo: go1.") {
		t.Errorf("version printed %q (exit %d)", out, code)
	}
}
