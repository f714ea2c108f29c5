package pullrequest

import (
	"encoding/json"
	"testing"
)

// jsonRoundTrip is m as it comes back from its JSON form.
func jsonRoundTrip(t *testing.T, m Marker) Marker {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out Marker
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
