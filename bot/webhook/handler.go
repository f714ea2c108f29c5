package webhook

import (
	"errors"
	"io"
	"net/http"
)

// DefaultMaxBody is the body size Handler accepts when MaxBody is 0: 1 MiB,
// well above any sender's notification (GitHub caps its payloads at 25 MB
// but a push event with its commit list stays far below 1 MiB for the
// bot's purposes; a larger one is refused, 413).
const DefaultMaxBody = 1 << 20

// Results of a request, as Handler's Count sees them.
const (
	Accepted     = "accepted"     // 202: authenticated and read; Deliver was called
	Unauthorized = "unauthorized" // 401: missing or wrong secret or signature
	BadRequest   = "bad_request"  // 400: the body is not the sender's payload
	TooLarge     = "too_large"    // 413: the body is over MaxBody
	Failed       = "failed"       // 500: the secret could not be read
)

// Handler serves POST /webhooks/{source} and, for a source that cannot
// sign, POST /webhooks/{source}/{secret}. It answers 401 to a bad secret
// (saying nothing more), 413 to a body over MaxBody, 400 to a payload it
// cannot read and 202 otherwise, once Deliver has returned; Deliver must
// therefore not block.
type Handler struct {
	// Secret returns the secret of source, and false when the source is
	// not configured (404). It is called for every request, so a rotated
	// secret file is read again.
	Secret func(s Source) (secret []byte, configured bool, err error)
	// MaxBody caps the body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Deliver receives each accepted event.
	Deliver func(Event)
	// Count, when set, is called once per request of a configured source
	// with one of the results above.
	Count func(s Source, result string)
}

// Register adds h's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /webhooks/{source}", h)
	mux.Handle("POST /webhooks/{source}/{secret}", h)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := Source(r.PathValue("source"))
	pathSecret := r.PathValue("secret")
	secret, configured, err := h.secret(s)
	if !configured || (pathSecret != "") != s.PathSecret() {
		http.NotFound(w, r)
		return
	}
	count := func(result string) {
		if h.Count != nil {
			h.Count(s, result)
		}
	}
	if err != nil {
		count(Failed)
		http.Error(w, "the webhook secret cannot be read", http.StatusInternalServerError)
		return
	}
	body, ok := readBody(w, r, h.MaxBody, count)
	if !ok {
		return
	}
	if err := Verify(s, r.Header, pathSecret, body, secret); err != nil {
		count(Unauthorized)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	ev, err := Parse(s, r.Header, body)
	if err != nil {
		count(BadRequest)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h.Deliver != nil {
		h.Deliver(ev)
	}
	count(Accepted)
	w.WriteHeader(http.StatusAccepted)
}

func (h *Handler) secret(s Source) ([]byte, bool, error) {
	if !s.Valid() || h.Secret == nil {
		return nil, false, nil
	}
	return h.Secret(s)
}

// readBody reads r's body, at most limit bytes (DefaultMaxBody when 0 or
// less). When it cannot, it answers (413 for a body over the limit, 400
// otherwise), counts the result and returns false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, count func(result string)) ([]byte, bool) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		count(TooLarge)
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	case err != nil:
		count(BadRequest)
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}
