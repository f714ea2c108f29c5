package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/test/filetree"
)

// TestPushDryRunCommit checks that a push mode dry run says which commit
// it would make: the message the configured template gives, trailer
// included, and the author; and that a template that cannot render fails
// the dry run as it would fail the push.
func TestPushDryRunCommit(t *testing.T) {
	tests := []struct {
		name       string
		template   string
		wantMsg    string
		wantErr    string
		wantAuthor string
	}{
		{name: "default template",
			wantMsg:    "Update ghcr.io/acme/web to 1.5.0\n\n- ghcr.io/acme/web 1.4.2 → 1.5.0 (deploy.yaml)\n\nImagebump-Bot: true\n",
			wantAuthor: "bump <bump@example.com>"},
		{name: "custom template", template: "chore: {{range .Changes}}{{.Policy}} {{.New}}{{end}}",
			wantMsg:    "chore: web ghcr.io/acme/web:1.5.0\n\nImagebump-Bot: true\n",
			wantAuthor: "bump <bump@example.com>"},
		{name: "template that fails", template: "{{.Nope}}", wantErr: "rendering the commit message template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, map[string]string{
				".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
				"deploy.yaml":     "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
			})
			wc := &fakeCopy{dir: dir}
			r := runner(t, config.Push, wc, true)
			r.Config.Commit = config.Commit{AuthorName: "bump", AuthorEmail: "bump@example.com", MessageTemplate: tc.template}
			res := r.pass(context.Background(), dedupe(newFake()), r.Config.Repositories[0])
			if len(wc.pushes) != 0 {
				t.Fatalf("a dry run pushed %d commits", len(wc.pushes))
			}
			if tc.wantErr != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
					t.Errorf("Err = %v, want %q", res.Err, tc.wantErr)
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if diff := cmp.Diff(tc.wantMsg, res.CommitMessage); diff != "" {
				t.Errorf("CommitMessage (-want +got):\n%s", diff)
			}
			if res.CommitAuthor != tc.wantAuthor {
				t.Errorf("CommitAuthor = %q, want %q", res.CommitAuthor, tc.wantAuthor)
			}
		})
	}
}
