package webhook

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHandler(t *testing.T) {
	const secret = "s3cret"
	gitlabPush := `{"project":{"git_http_url":"https://gitlab.example.com/g/fleet.git"}}`
	for _, tc := range []struct {
		name    string
		path    string
		h       http.Header
		body    string
		code    int
		count   string // "" when Count must not be called
		deliver bool
	}{
		{"accepted", "/webhooks/distribution", header("Authorization", "Bearer "+secret), distributionPush, 202, Accepted, true},
		{"bad secret: 401 and nothing said", "/webhooks/distribution", header("Authorization", "Bearer x"), distributionPush, 401, Unauthorized, false},
		{"bad secret before bad body", "/webhooks/distribution", header("Authorization", "Bearer x"), "garbage", 401, Unauthorized, false},
		{"unreadable payload", "/webhooks/distribution", header("Authorization", "Bearer "+secret), "garbage", 400, BadRequest, false},
		{"oversized", "/webhooks/gitlab", header("X-Gitlab-Token", secret, "X-Gitlab-Event", "Push Hook"), gitlabPush + strings.Repeat(" ", len(distributionPush)), 413, TooLarge, false},
		{"gitlab", "/webhooks/gitlab", header("X-Gitlab-Token", secret, "X-Gitlab-Event", "Push Hook"), gitlabPush, 202, Accepted, true},
		{"github signed", "/webhooks/github", header("X-Hub-Signature-256", "sha256="+sign(`{"zen":"z"}`, secret), "X-GitHub-Event", "ping"), `{"zen":"z"}`, 202, Accepted, true},
		{"dockerhub secret in path", "/webhooks/dockerhub/" + secret, nil, `{"repository":{"repo_name":"acme/web"}}`, 202, Accepted, true},
		{"dockerhub wrong path secret", "/webhooks/dockerhub/guess", nil, `{"repository":{"repo_name":"acme/web"}}`, 401, Unauthorized, false},
		{"dockerhub without path secret", "/webhooks/dockerhub", nil, `{"repository":{"repo_name":"acme/web"}}`, 404, "", false},
		{"path secret on a signing source", "/webhooks/gitlab/" + secret, header("X-Gitlab-Token", secret), gitlabPush, 404, "", false},
		{"source not configured", "/webhooks/quay", header("Authorization", "Bearer "+secret), `{"docker_url":"quay.io/a/b"}`, 404, "", false},
		{"unknown source", "/webhooks/bitbucket", nil, `{}`, 404, "", false},
		{"secret file unreadable", "/webhooks/harbor", header("Authorization", "Bearer "+secret), `{}`, 500, Failed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var delivered []Event
			var counted []string
			h := &Handler{
				Secret: func(s Source) ([]byte, bool, error) {
					switch s {
					case Quay:
						return nil, false, nil
					case Harbor:
						return nil, true, errors.New("open /secret: permission denied")
					}
					return []byte(secret), true, nil
				},
				MaxBody: int64(len(distributionPush)),
				Deliver: func(ev Event) { delivered = append(delivered, ev) },
				Count:   func(s Source, result string) { counted = append(counted, string(s)+" "+result) },
			}
			mux := http.NewServeMux()
			h.Register(mux)
			req := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
			for k, v := range tc.h {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d (%s)", rec.Code, tc.code, rec.Body)
			}
			if tc.code == 401 {
				if b, _ := io.ReadAll(rec.Body); strings.TrimSpace(string(b)) != "unauthorized" {
					t.Errorf("401 body %q says more than unauthorized", b)
				}
			}
			var want []string
			if tc.count != "" {
				src, _, _ := strings.Cut(strings.TrimPrefix(tc.path, "/webhooks/"), "/")
				want = []string{src + " " + tc.count}
			}
			if diff := cmp.Diff(want, counted); diff != "" {
				t.Errorf("counted (-want +got):\n%s", diff)
			}
			if (len(delivered) == 1) != tc.deliver || len(delivered) > 1 {
				t.Errorf("delivered %+v, want delivered=%v", delivered, tc.deliver)
			}
		})
	}
}

func TestHandlerGetIsNotAllowed(t *testing.T) {
	h := &Handler{Secret: func(Source) ([]byte, bool, error) { return []byte("x"), true, nil }}
	mux := http.NewServeMux()
	h.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/webhooks/gitlab", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", rec.Code)
	}
}
