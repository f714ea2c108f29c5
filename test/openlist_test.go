package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// TestOpenPullRequestsBounded lists the open pull requests of a hostile
// server on each forge's client: one that always has a next page stops at
// rest.MaxPages requests with an error naming the bound, and one whose
// single page holds more than rest.MaxItems fails; neither returns a
// partial list.
func TestOpenPullRequestsBounded(t *testing.T) {
	item := map[string]func(n int) map[string]any{
		"github": func(n int) map[string]any {
			return map[string]any{"number": n, "state": "open", "head": map[string]any{"ref": "b", "label": "acme:b"}}
		},
		"gitlab": func(n int) map[string]any {
			return map[string]any{"iid": n, "state": "opened", "source_branch": "b"}
		},
		"gitea": func(n int) map[string]any {
			return map[string]any{"number": n, "state": "open", "head": map[string]any{"ref": "b"}}
		},
	}
	path := map[string]string{"github": "acme/fleet", "gitlab": "acme/fleet", "gitea": "acme/fleet"}
	for _, f := range prForges {
		for _, tc := range []struct {
			name     string
			endless  bool // every page has a next one
			perPage  int
			wantErr  string
			maxCalls int64
		}{
			{name: "endless pages", endless: true, perPage: 1, wantErr: fmt.Sprintf("more than %d pages", rest.MaxPages), maxCalls: rest.MaxPages},
			{name: "one huge page", perPage: rest.MaxItems + 1, wantErr: fmt.Sprintf("more than %d items", rest.MaxItems), maxCalls: 1},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				var calls atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.Contains(r.URL.Path, "/pulls") && !strings.Contains(r.URL.Path, "/merge_requests") {
						http.NotFound(w, r)
						return
					}
					calls.Add(1)
					page, _ := strconv.Atoi(r.URL.Query().Get("page"))
					page = max(page, 1)
					var items []map[string]any
					for i := range tc.perPage {
						items = append(items, item[f.name](page*tc.perPage+i))
					}
					if tc.endless {
						next := *r.URL
						q := next.Query()
						q.Set("page", strconv.Itoa(page+1))
						next.RawQuery = q.Encode()
						w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, next.String()))
						w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
					}
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(items)
				}))
				t.Cleanup(srv.Close)
				apiURL := srv.URL
				switch f.name {
				case "github":
					apiURL += "/api/v3/"
				case "gitlab":
					apiURL += "/api/v4"
				}
				c, err := forgeKind(t, f.name).New(apiURL, path[f.name], "tok", nil)
				if err != nil {
					t.Fatal(err)
				}
				lister, ok := c.(pullrequest.OpenLister)
				if !ok {
					t.Fatalf("the %s client cannot list open pull requests", f.name)
				}
				prs, err := lister.OpenPullRequests(context.Background())
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || prs != nil {
					t.Errorf("OpenPullRequests = %d pull requests, %v; want none and an error containing %q", len(prs), err, tc.wantErr)
				}
				if n := calls.Load(); n > tc.maxCalls {
					t.Errorf("%d requests, want at most %d", n, tc.maxCalls)
				}
			})
		}
	}
}
