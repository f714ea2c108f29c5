package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
)

// hostileTags break the OCI tag grammar; under alphabetical asc each sorts
// after the valid tags "a" and "b", so a client that took them as
// candidates would select one.
var hostileTags = []string{"z#x", "z\u200b", "{z}", "z\x1b[31mred\x1b[0m", "z\x1b]0;title\x07", "z\u202egnp.exe", "z\U0001F600"}

// hostileRegistry serves "acme/app" with the tags a and b (real images)
// and lists the hostile tags besides them.
func hostileRegistry(t *testing.T) *registrytest.Registry {
	t.Helper()
	listed := append([]string{"a", "b"}, hostileTags...)
	reg := registrytest.StartInProcess(t, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"name": "acme/app", "tags": listed})
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	reg.Seed(t, "acme/app", "a", "b")
	return reg
}

// rawControl reports the first byte of s that would drive a terminal (a
// C0 control other than newline and tab, DEL, or C1 in UTF-8), or a
// zero-width space.
func rawControl(s string) (string, bool) {
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u200b':
			return fmt.Sprintf("%U", r), true
		}
	}
	return "", false
}

func TestTagsHostileTags(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := hostileRegistry(t)
	repo := reg.Repo("acme/app")

	out, stderr, code := runCLI(t, "tags", repo, "--alphabetical", "asc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for name, s := range map[string]string{"stdout": out, "stderr": stderr} {
		if r, bad := rawControl(s); bad {
			t.Errorf("%s holds a raw %s:\n%q", name, r, s)
		}
	}
	if i := strings.IndexFunc(out, func(r rune) bool { return r >= 0x80 }); i >= 0 {
		t.Errorf("output holds %q, not ASCII:\n%s", out[i:min(i+8, len(out))], out)
	}
	for _, want := range []string{
		repo + ": selected b (sha256:",
		`"z#x" invalid tag`,
		`"z\u200b" invalid tag`,
		`"{z}" invalid tag`,
		`"z\x1b[31mred\x1b[0m" invalid tag`,
		`"z\x1b]0;title\a" invalid tag`,
		`"z\u202egnp.exe" invalid tag`,
		`"z\U0001f600" invalid tag`,
	} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, stderr, code = runCLI(t, "tags", repo, "--alphabetical", "asc", "-o", "json")
	if code != 0 {
		t.Fatalf("-o json: exit %d: %s", code, stderr)
	}
	if i := strings.IndexFunc(out, func(r rune) bool { return r >= 0x80 || r < 0x20 && r != '\n' }); i >= 0 {
		t.Errorf("JSON holds %q, not printable ASCII:\n%s", out[i:min(i+8, len(out))], out)
	}
	var got tagsReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	reasons := map[string]string{}
	for _, v := range got.Tags {
		reasons[v.Tag] = v.Reason
	}
	want := map[string]string{"a": "candidate", "b": "selected"}
	for _, tg := range hostileTags {
		want[tg] = "invalid tag"
	}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

// TestApplyNeverWritesHostileTags checks that plan and apply select only
// tags of the OCI grammar, so none of the hostile ones reaches a file or
// the terminal.
func TestApplyNeverWritesHostileTags(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := hostileRegistry(t)
	repo := reg.Repo("acme/app")
	dir := filetree.Write(t, map[string]string{
		".imagebump.yaml": "policies:\n  - {name: app, image: " + repo + ", alphabetical: asc}\n",
		"app.yaml":        "image: " + repo + ":a # {\"$imagepolicy\": \"app\"}\ntag: a # {\"$imagepolicy\": \"app:tag\"}\n",
	})
	for _, cmd := range []string{"plan", "apply"} {
		out, stderr, code := runCLI(t, cmd, dir)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", cmd, code, stderr)
		}
		for name, s := range map[string]string{"stdout": out, "stderr": stderr} {
			if r, bad := rawControl(s); bad {
				t.Errorf("%s %s holds a raw %s:\n%q", cmd, name, r, s)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "image: " + repo + ":b # {\"$imagepolicy\": \"app\"}\ntag: b # {\"$imagepolicy\": \"app:tag\"}\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("app.yaml (-want +got):\n%s", diff)
	}
}

// TestTagsRegistryMessages checks what tags prints when the registry is
// down or answers with an error body full of terminal escapes.
func TestTagsRegistryMessages(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	escapes := registrytest.StartInProcess(t, registrytest.WithMiddleware(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "\x1b[2J\x1b]0;owned\x07bad\u200b")
		})
	}))
	for _, tc := range []struct {
		name, repo, want string
	}{
		{"registry down", down + "/app", "imagebump: listing tags of " + down + "/app: cannot connect to " + down + ": connection refused\n"},
		{"error body with escapes", escapes.Repo("app"), "imagebump: listing tags of " + escapes.Repo("app") + `: GET http://` + escapes.Host + `/v2/: unexpected status code 400 Bad Request: \x1b[2J\x1b]0;owned\abad\u200b` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "tags", tc.repo)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			if diff := cmp.Diff(tc.want, stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}
