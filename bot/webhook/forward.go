package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Forwarding between the replicas of a sharded daemon: an event that
// reached a replica for repositories another shard owns is sent, already
// parsed and verified, to that shard's replica. The body is the Event as
// JSON; ForwardSignatureHeader carries "sha256=" and the hex HMAC-SHA256 of
// the body under a secret every replica reads from the same file, and
// ForwardedHeader names the sending shard. A replica delivers a forwarded
// event only to its own repositories and never forwards it again, so an
// event crosses at most one hop; the sender tries once and does not retry.
const (
	// ForwardPath is the route forwarded events are posted to.
	ForwardPath = "/webhooks/_forwarded"
	// ForwardedHeader marks a forwarded event with the sending shard's
	// index. It is checked only after the signature verified.
	ForwardedHeader = "X-Imagebump-Forwarded"
	// ForwardSignatureHeader holds "sha256=HEX", the HMAC-SHA256 of the body.
	ForwardSignatureHeader = "X-Imagebump-Forward-Signature"
)

// Sign is the value of ForwardSignatureHeader for body under secret.
func Sign(body, secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Forward posts ev to the replica at base (scheme://host:port) as shard
// from, signed with secret. One attempt; a status other than 202 is an
// error.
func Forward(ctx context.Context, client *http.Client, base string, from int, ev Event, secret []byte) error {
	if len(secret) == 0 {
		return errors.New("forwarding an event: the forwarding secret is empty")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	url := strings.TrimSuffix(base, "/") + ForwardPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("forwarding an event to %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ForwardSignatureHeader, Sign(body, secret))
	req.Header.Set(ForwardedHeader, fmt.Sprint(from))
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("forwarding an event to %s: %w", base, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("forwarding an event to %s: %s", base, resp.Status)
	}
	return nil
}

// ForwardHandler serves ForwardPath: 401 for a missing or wrong signature,
// 400 for a signed body without ForwardedHeader or that is not an Event,
// 202 once Deliver returned (it must not block).
type ForwardHandler struct {
	// Secret returns the forwarding secret; it is called for every
	// request, so a rotated file is read again.
	Secret func() ([]byte, error)
	// MaxBody caps the body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Deliver receives each accepted event and the sending shard.
	Deliver func(ev Event, from string)
	// Count, when set, is called once per request with one of Handler's
	// results.
	Count func(result string)
}

// Register adds h's route to mux.
func (h *ForwardHandler) Register(mux *http.ServeMux) {
	mux.Handle("POST "+ForwardPath, h)
}

func (h *ForwardHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	count := func(result string) {
		if h.Count != nil {
			h.Count(result)
		}
	}
	secret, err := h.Secret()
	if err != nil {
		count(Failed)
		http.Error(w, "the forwarding secret cannot be read", http.StatusInternalServerError)
		return
	}
	body, ok := readBody(w, r, h.MaxBody, count)
	if !ok {
		return
	}
	sig, found := strings.CutPrefix(r.Header.Get(ForwardSignatureHeader), "sha256=")
	if len(secret) == 0 || !found || !hmacEqual(sig, body, secret) {
		count(Unauthorized)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	from := r.Header.Get(ForwardedHeader)
	if from == "" {
		count(BadRequest)
		http.Error(w, "not a forwarded event: no "+ForwardedHeader+" header", http.StatusBadRequest)
		return
	}
	var ev Event
	if err := decode(body, &ev); err != nil || !ev.Source.Valid() {
		count(BadRequest)
		http.Error(w, "not a forwarded event", http.StatusBadRequest)
		return
	}
	if h.Deliver != nil {
		h.Deliver(ev, from)
	}
	count(Accepted)
	w.WriteHeader(http.StatusAccepted)
}
