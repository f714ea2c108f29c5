package github

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestGatePruning checks that gateFor drops the gate of a token no client
// was made with for gateIdle (a rotated token's), but never one a write
// holds, and that one token keeps one gate meanwhile.
func TestGatePruning(t *testing.T) {
	key := func(token string) [sha256.Size]byte {
		return sha256.Sum256([]byte("https://ghe.example/api/v3/\x00" + token))
	}
	present := func(token string) bool {
		gates.Lock()
		defer gates.Unlock()
		_, ok := gates.m[key(token)]
		return ok
	}
	old := gateFor("https://ghe.example/api/v3/", "rotated")
	busy := gateFor("https://ghe.example/api/v3/", "writing")
	if again := gateFor("https://ghe.example/api/v3/", "rotated"); again != old {
		t.Fatal("a second client on one token got another gate")
	}
	gates.Lock()
	old.taken = time.Now().Add(-gateIdle - time.Minute)
	busy.taken = old.taken
	gates.Unlock()
	busy.mu.Lock() // a write in progress
	gateFor("https://ghe.example/api/v3/", "current")
	busy.mu.Unlock()
	if present("rotated") {
		t.Error("the gate of a token unused for a day was kept")
	}
	if !present("writing") {
		t.Error("the gate of a write in progress was dropped")
	}
	if !present("current") {
		t.Error("the gate just asked for is missing")
	}
}
