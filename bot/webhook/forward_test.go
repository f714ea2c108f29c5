package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestForwardHandler(t *testing.T) {
	secret := []byte("forward-secret")
	body := `{"Source":"github","Kind":"push","Repositories":["https://git.example/acme/fleet.git"]}`
	tests := []struct {
		name    string
		body    string
		header  map[string]string
		want    int
		deliver bool
	}{
		{name: "signed and marked", body: body, header: map[string]string{ForwardSignatureHeader: Sign([]byte(body), secret), ForwardedHeader: "1"}, want: http.StatusAccepted, deliver: true},
		{name: "no signature", body: body, header: map[string]string{ForwardedHeader: "1"}, want: http.StatusUnauthorized},
		{name: "another secret", body: body, header: map[string]string{ForwardSignatureHeader: Sign([]byte(body), []byte("other")), ForwardedHeader: "1"}, want: http.StatusUnauthorized},
		{name: "body changed after signing", body: strings.Replace(body, "fleet", "other", 1), header: map[string]string{ForwardSignatureHeader: Sign([]byte(body), secret), ForwardedHeader: "1"}, want: http.StatusUnauthorized},
		{name: "signature without sha256= prefix", body: body, header: map[string]string{ForwardSignatureHeader: strings.TrimPrefix(Sign([]byte(body), secret), "sha256="), ForwardedHeader: "1"}, want: http.StatusUnauthorized},
		{name: "signed but not marked forwarded", body: body, header: map[string]string{ForwardSignatureHeader: Sign([]byte(body), secret)}, want: http.StatusBadRequest},
		{name: "signed, not an event", body: `{"Source":"nope"}`, header: map[string]string{ForwardSignatureHeader: Sign([]byte(`{"Source":"nope"}`), secret), ForwardedHeader: "1"}, want: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []Event
			var counts []string
			h := &ForwardHandler{
				Secret:  func() ([]byte, error) { return secret, nil },
				Deliver: func(ev Event, from string) { got = append(got, ev) },
				Count:   func(r string) { counts = append(counts, r) },
			}
			req := httptest.NewRequest(http.MethodPost, ForwardPath, strings.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
			if (len(got) == 1) != tc.deliver || len(got) > 1 {
				t.Errorf("delivered %d events, want delivered=%v", len(got), tc.deliver)
			}
			if len(counts) != 1 {
				t.Errorf("counted %v, want one result", counts)
			}
		})
	}
}

// TestForwardRoundTrip: what Forward sends, ForwardHandler accepts as the
// same event, with the sending shard.
func TestForwardRoundTrip(t *testing.T) {
	secret := []byte("s")
	var got Event
	var from string
	mux := http.NewServeMux()
	(&ForwardHandler{Secret: func() ([]byte, error) { return secret, nil }, Deliver: func(ev Event, f string) { got, from = ev, f }}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ev := Event{Source: Distribution, Kind: "push", Images: []string{"registry.example/acme/web"}}
	if err := Forward(t.Context(), srv.Client(), srv.URL, 2, ev, secret); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("delivered event (-want +got):\n%s", diff)
	}
	if from != "2" {
		t.Errorf("from %q, want 2", from)
	}
	if err := Forward(t.Context(), srv.Client(), srv.URL, 2, ev, []byte("wrong")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("forwarding with the wrong secret: %v, want a 401 error", err)
	}
}
