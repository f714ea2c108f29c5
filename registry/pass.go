package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// Pass is a view of a Client for one update pass. Within a Pass each
// repository is listed once and each reference is resolved to a digest
// once, however many callers ask; concurrent callers share one request.
// Each host is pinged once and each repository scope gets one token. A new
// Pass starts from a clean slate, so the bot makes one per pass and sees
// new tags on the next. Platforms and created times are immutable for a
// digest and cached by the Client across passes.
//
// A Pass is safe for concurrent use. Errors are cached for the rest of the
// pass too, so a failing registry is not asked again and again, except
// errors from a caller's cancelled context.
type Pass struct {
	c      *Client
	counts counter
	pings  memo[*cachedResponse]
	// auths holds the credentials resolved for each repository and where
	// they came from, for errors that must say so.
	auths memo[repoAuth]
	// conns holds one authenticated transport per repository: one
	// token exchange per repository scope for everything the pass does.
	conns memo[http.RoundTripper]

	tags    memo[[]string]
	digests memo[string]
	// manifests and configs are immutable by digest; a candidate checked
	// for platforms and then for age is fetched once.
	manifests memo[*remote.Descriptor]
	configs   memo[*v1.ConfigFile]
}

// Pass starts a pass: a view of c with empty per-pass caches. Passes may
// overlap; they share the Client's host limits and digest caches.
func (c *Client) Pass() *Pass {
	p := &Pass{c: c}
	p.pings.keepErrors = true
	p.auths.keepErrors = true
	p.conns.keepErrors = true
	p.tags.keepErrors = true
	p.digests.keepErrors = true
	return p
}

// conn returns the authenticated transport for a repository: go-containerregistry's
// ping and bearer/basic handshake over passTransport. Being a
// *transport.Wrapper, remote functions given it use it as is: no second
// handshake, no retries of their own (ours are under it).
func (p *Pass) conn(ctx context.Context, r name.Repository) (http.RoundTripper, error) {
	return p.conns.do(ctx, r.Name(), func() (http.RoundTripper, error) {
		a, err := p.auth(ctx, r)
		if err != nil {
			return nil, err
		}
		var rt http.RoundTripper = &passTransport{p: p}
		rt = transport.NewUserAgent(rt, p.c.userAgent)
		return transport.NewWithContext(ctx, r.Registry, a.auth, rt, []string{r.Scope(transport.PullScope)})
	})
}

// repoAuth is the authenticator for a repository and where it came from;
// source is empty for anonymous access.
type repoAuth struct {
	auth   authn.Authenticator
	source string
}

func (p *Pass) auth(ctx context.Context, r name.Repository) (repoAuth, error) {
	return p.auths.do(ctx, r.Name(), func() (repoAuth, error) {
		a, err := authn.Resolve(ctx, p.c.keychain, r)
		if err != nil {
			return repoAuth{}, err
		}
		ra := repoAuth{auth: a}
		if s, ok := a.(sourcer); ok {
			ra.source = s.source()
		}
		return ra, nil
	})
}

// remote returns the options of go-containerregistry's remote functions
// for a repository.
func (p *Pass) remote(ctx context.Context, r name.Repository) ([]remote.Option, error) {
	rt, err := p.conn(ctx, r)
	if err != nil {
		return nil, err
	}
	return []remote.Option{remote.WithTransport(rt), remote.WithContext(ctx)}, nil
}

// Counts returns the requests this pass sent, by host and kind, sorted
// by host then kind.
func (p *Pass) Counts() []Count { return p.counts.snapshot() }

// Tags lists the tags of a repository such as "ghcr.io/acme/web" in the
// registry's order. It asks for pages of 1000 (n=1000) and follows Link
// headers to the same host; a full page without a Link is followed up with
// last=, because some registries cut at n silently. A listing that fails
// on any page, loops, repeats tags across pages, or exceeds a bound
// (WithMaxPages, WithMaxTags, WithListTimeout, 64 MiB per page) is an
// error, a *ListLimitError for a bound, never a partial list. The tags are
// as the registry sent them, not checked against the tag grammar. The
// caller owns the returned slice.
func (p *Pass) Tags(ctx context.Context, repo string) ([]string, error) {
	r, err := p.c.repository(repo)
	if err != nil {
		return nil, p.c.failure(err)
	}
	tags, err := p.tags.do(ctx, r.Name(), func() ([]string, error) {
		return p.listBounded(ctx, r)
	})
	if err != nil {
		return nil, p.c.failure(fmt.Errorf("listing tags of %s: %w", r.Name(), p.explain(err, r)))
	}
	return slices.Clone(tags), nil
}

// errListTime is the cause of a listing's context running out of time.
var errListTime = errors.New("list timeout")

// listBounded is list within the client's time budget for one repository.
func (p *Pass) listBounded(ctx context.Context, r name.Repository) ([]string, error) {
	if p.c.listTimeout <= 0 {
		return p.list(ctx, r)
	}
	lctx, cancel := context.WithTimeoutCause(ctx, p.c.listTimeout, errListTime)
	defer cancel()
	tags, err := p.list(lctx, r)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(lctx), errListTime) {
		return nil, &ListLimitError{Limit: p.c.listTimeout.String(), kind: limitTime}
	}
	return tags, err
}

func (p *Pass) list(ctx context.Context, r name.Repository) ([]string, error) {
	rt, err := p.conn(ctx, r)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: rt, CheckRedirect: sameHost}
	u := &url.URL{
		Scheme:   r.Scheme(),
		Host:     r.RegistryStr(),
		Path:     fmt.Sprintf("/v2/%s/tags/list", r.RepositoryStr()),
		RawQuery: fmt.Sprintf("n=%d", pageSize),
	}
	tags := []string{}
	seen := map[string]bool{}
	requested := map[string]bool{}
	byLast := false
	for pageNo := 1; ; pageNo++ {
		if pageNo > p.c.maxPages {
			return nil, &ListLimitError{Limit: fmt.Sprintf("%d pages", p.c.maxPages), kind: limitPages}
		}
		requested[u.String()] = true
		page, next, err := listPage(ctx, client, u, r, p.c.maxPageBytes)
		if err != nil {
			return nil, err
		}
		var fresh []string
		for _, tg := range page {
			if !seen[tg] {
				seen[tg] = true
				fresh = append(fresh, tg)
			}
		}
		switch {
		case byLast && len(fresh) == 0:
			// Empty, or the whole list again from a registry that
			// ignores n and last (docker-registry 2.8 does): done.
			return tags, nil
		case pageNo > 1 && len(fresh) != len(page):
			return nil, fmt.Errorf("registry listed tags of page %d again while paginating; refusing a possibly partial list", pageNo)
		}
		tags = append(tags, fresh...)
		if len(tags) > p.c.maxTags {
			return nil, &ListLimitError{Limit: fmt.Sprintf("%d tags", p.c.maxTags), kind: limitTags}
		}
		byLast = false
		if next == nil && len(page) == pageSize {
			// A full page and no Link: go-containerregistry's own
			// registry (and others) cut at n without saying so. Ask for
			// the rest with last=, which the distribution spec defines.
			next = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path,
				RawQuery: url.Values{"n": {fmt.Sprint(pageSize)}, "last": {page[len(page)-1]}}.Encode()}
			byLast = true
		}
		if next == nil {
			return tags, nil
		}
		if requested[next.String()] {
			return nil, fmt.Errorf("registry pagination loops back to %s", next.Redacted())
		}
		u = next
	}
}

// listPage fetches one page of a tag listing, at most maxBytes of it, and
// the URL of the next.
func listPage(ctx context.Context, client *http.Client, u *url.URL, r name.Repository, maxBytes int64) ([]string, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, nil, err
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	// Read it all first: a page cut at the cap would fail to parse, and
	// "unexpected EOF" would hide that it was too large.
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > maxBytes {
		return nil, nil, &ListLimitError{Limit: byteSize(maxBytes), kind: limitPageBytes}
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&body); err != nil {
		return nil, nil, decodeErr(err)
	}
	next, err := nextPage(resp, r)
	if err != nil {
		return nil, nil, err
	}
	return body.Tags, next, nil
}

// nextPage parses a Link header (`<url>; rel="next"`) relative to the
// request, refusing links to other hosts: a registry must not make us
// send its credentials elsewhere.
func nextPage(resp *http.Response, r name.Repository) (*url.URL, error) {
	link := resp.Header.Get("Link")
	if link == "" {
		return nil, nil
	}
	start, end := strings.IndexByte(link, '<'), strings.IndexByte(link, '>')
	if start != 0 || end < 0 {
		return nil, fmt.Errorf("malformed Link header %q", link)
	}
	if !strings.Contains(link[end:], `rel="next"`) && !strings.Contains(link[end:], "rel=next") {
		return nil, nil
	}
	ref, err := url.Parse(link[1:end])
	if err != nil {
		return nil, fmt.Errorf("malformed Link header %q: %w", link, err)
	}
	next := resp.Request.URL.ResolveReference(ref)
	if next.Host != resp.Request.URL.Host {
		return nil, fmt.Errorf("registry %s links the next page of %s to another host, %s", r.RegistryStr(), r.RepositoryStr(), next.Host)
	}
	return next, nil
}

// sameHost refuses redirects of tag listings to other hosts.
func sameHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("refusing redirect to another host, %s", req.URL.Host)
	}
	return nil
}

// Digest resolves a reference such as "ghcr.io/acme/web:1.4.2" to the
// digest of its manifest, "sha256:…": for a multi-platform image the digest
// of the index, the one to pin. It sends a HEAD request, and a GET only if
// the registry refuses HEAD (405, 501, or a response without
// Docker-Content-Digest). A reference that already holds a digest is
// returned as is, without a request.
func (p *Pass) Digest(ctx context.Context, ref string) (string, error) {
	r, err := p.c.reference(ref)
	if err != nil {
		return "", p.c.failure(err)
	}
	if d, ok := r.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	d, err := p.digests.do(ctx, r.Name(), func() (string, error) {
		return p.head(ctx, r)
	})
	if err != nil {
		return "", p.c.failure(fmt.Errorf("resolving digest of %s: %w", r.Name(), p.explain(err, r.Context())))
	}
	return d, nil
}

func (p *Pass) head(ctx context.Context, r name.Reference) (string, error) {
	opts, err := p.remote(ctx, r.Context())
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(r, opts...)
	if err == nil {
		return desc.Digest.String(), nil
	}
	if !headRefused(err) {
		return "", err
	}
	p.c.log.Debug("registry refused HEAD, falling back to GET", "ref", r.Name(), "error", err.Error())
	got, gerr := remote.Get(r, opts...)
	if gerr != nil {
		return "", decodeErr(gerr)
	}
	return got.Digest.String(), nil
}

// headRefused tells errors that mean "this registry does not do HEAD on
// manifests" from real failures (401, 404, 5xx, network).
func headRefused(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusMethodNotAllowed || te.StatusCode == http.StatusNotImplemented
	}
	// go-containerregistry's own complaint about missing headers.
	return strings.Contains(err.Error(), "response did not include")
}

// Platform is an os/architecture[/variant] an image runs on.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String formats the platform as "linux/arm64" or "linux/arm/v7".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Platforms returns the platforms of a reference: those its index lists, or
// for a single-platform image the one its config names. Attestation
// manifests (buildx's "unknown/unknown") are not platforms and are left
// out. The result is in the index's order.
func (p *Pass) Platforms(ctx context.Context, ref string) ([]Platform, error) {
	r, d, err := p.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	plats, err := p.c.platforms.do(ctx, d.DigestStr(), func() ([]Platform, error) {
		return p.platforms(ctx, d)
	})
	if err != nil {
		return nil, p.c.failure(fmt.Errorf("reading platforms of %s: %w", r, p.explain(err, d.Context())))
	}
	return slices.Clone(plats), nil
}

// resolve parses ref and pins it to its digest within this pass.
func (p *Pass) resolve(ctx context.Context, ref string) (string, name.Digest, error) {
	r, err := p.c.reference(ref)
	if err != nil {
		return "", name.Digest{}, err
	}
	dg, err := p.Digest(ctx, ref)
	if err != nil {
		return "", name.Digest{}, err
	}
	return r.Name(), r.Context().Digest(dg), nil
}

func (p *Pass) platforms(ctx context.Context, d name.Digest) ([]Platform, error) {
	desc, err := p.get(ctx, d)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, decodeErr(err)
		}
		var out []Platform
		for _, m := range im.Manifests {
			if m.Platform == nil || attestation(m) {
				continue
			}
			out = append(out, Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant})
		}
		return out, nil
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	cf, err := p.config(ctx, d, desc)
	if err != nil {
		return nil, err
	}
	return []Platform{{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}}, nil
}

func attestation(m v1.Descriptor) bool {
	return m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
		(m.Platform != nil && m.Platform.OS == "unknown" && m.Platform.Architecture == "unknown")
}

// get fetches a manifest by digest.
func (p *Pass) get(ctx context.Context, d name.Digest) (*remote.Descriptor, error) {
	return p.manifests.do(ctx, d.Name(), func() (*remote.Descriptor, error) {
		opts, err := p.remote(ctx, d.Context())
		if err != nil {
			return nil, err
		}
		desc, err := remote.Get(d, opts...)
		if err != nil {
			return nil, decodeErr(err)
		}
		return desc, nil
	})
}

// config reads the config of the image manifest desc, fetched from d.
func (p *Pass) config(ctx context.Context, d name.Digest, desc *remote.Descriptor) (*v1.ConfigFile, error) {
	return p.configs.do(ctx, d.Name(), func() (*v1.ConfigFile, error) {
		img, err := desc.Image()
		if err != nil {
			return nil, decodeErr(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading image config: %w", decodeErr(err))
		}
		return cf, nil
	})
}

// Created returns when the image a reference names was built, from the
// "created" field of its config; the zero time if the config has none.
// For an index it is the newest created time of its platform images: a
// policy's minAge then holds for every platform, at the cost of one
// manifest and one config request per platform the first time a digest
// is seen (results are cached by digest for the Client's lifetime).
func (p *Pass) Created(ctx context.Context, ref string) (time.Time, error) {
	r, d, err := p.resolve(ctx, ref)
	if err != nil {
		return time.Time{}, err
	}
	t, err := p.created(ctx, d)
	if err != nil {
		return time.Time{}, p.c.failure(fmt.Errorf("reading created time of %s: %w", r, p.explain(err, d.Context())))
	}
	return t, nil
}

func (p *Pass) created(ctx context.Context, d name.Digest) (time.Time, error) {
	return p.c.created.do(ctx, d.DigestStr(), func() (time.Time, error) {
		desc, err := p.get(ctx, d)
		if err != nil {
			return time.Time{}, err
		}
		if desc.MediaType.IsImage() {
			cf, err := p.config(ctx, d, desc)
			if err != nil {
				return time.Time{}, err
			}
			return cf.Created.Time, nil
		}
		if !desc.MediaType.IsIndex() {
			return time.Time{}, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
		}
		idx, err := desc.ImageIndex()
		if err != nil {
			return time.Time{}, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return time.Time{}, decodeErr(err)
		}
		var (
			mu     sync.Mutex
			newest time.Time
		)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(DefaultMaxConcurrency)
		for _, m := range im.Manifests {
			if attestation(m) || !(m.MediaType.IsImage() || m.MediaType.IsIndex()) {
				continue
			}
			child := d.Context().Digest(m.Digest.String())
			g.Go(func() error {
				t, err := p.created(gctx, child)
				if err != nil {
					return fmt.Errorf("platform image %s: %w", m.Digest, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if t.After(newest) {
					newest = t
				}
				return nil
			})
		}
		err = g.Wait()
		return newest, err
	})
}

// repository parses a repository name, marking insecure hosts.
func (c *Client) repository(repo string) (name.Repository, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return name.Repository{}, fmt.Errorf("invalid repository %q: %w", repo, err)
	}
	if c.insecure(r.RegistryStr()) {
		r, err = name.NewRepository(repo, name.Insecure)
	}
	return r, err
}

// reference parses an image reference, marking insecure hosts.
func (c *Client) reference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	if c.insecure(r.Context().RegistryStr()) {
		r, err = name.ParseReference(ref, name.Insecure)
	}
	return r, err
}

// decodeErr says that a JSON error came from a malformed registry
// response; encoding/json's own message does not.
func decodeErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("malformed registry response: %w", err)
	}
	return err
}

// Tags is Pass().Tags: uncached, it pings and authenticates afresh. Use a
// Pass for more than one call.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	return c.Pass().Tags(ctx, repo)
}

// Digest is Pass().Digest; see Tags.
func (c *Client) Digest(ctx context.Context, ref string) (string, error) {
	return c.Pass().Digest(ctx, ref)
}

// Platforms is Pass().Platforms; see Tags.
func (c *Client) Platforms(ctx context.Context, ref string) ([]Platform, error) {
	return c.Pass().Platforms(ctx, ref)
}

// Created is Pass().Created; see Tags.
func (c *Client) Created(ctx context.Context, ref string) (time.Time, error) {
	return c.Pass().Created(ctx, ref)
}

// memo runs a function once per key, shares the call among concurrent
// callers (singleflight), and keeps the result. With keepErrors it keeps
// errors too, except context errors, which belong to one caller and must
// not poison others.
type memo[T any] struct {
	keepErrors bool

	mu   sync.Mutex
	done map[string]memoResult[T]
	sf   singleflight.Group
}

type memoResult[T any] struct {
	v   T
	err error
}

func (m *memo[T]) do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	m.mu.Lock()
	if r, ok := m.done[key]; ok {
		m.mu.Unlock()
		return r.v, r.err
	}
	m.mu.Unlock()
	v, err, _ := m.sf.Do(key, func() (any, error) {
		m.mu.Lock()
		if r, ok := m.done[key]; ok {
			m.mu.Unlock()
			return r.v, r.err
		}
		m.mu.Unlock()
		v, err := fn()
		ctxErr := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil
		if err == nil || (m.keepErrors && !ctxErr) {
			m.mu.Lock()
			if m.done == nil {
				m.done = map[string]memoResult[T]{}
			}
			m.done[key] = memoResult[T]{v: v, err: err}
			m.mu.Unlock()
		}
		return v, err
	})
	tv, _ := v.(T)
	return tv, err
}

// passTransport tags each request with the pass's counter and answers
// repeated pings from a cache: go-containerregistry pings once per
// repository, and the answer (200, or 401 with its challenge) is a
// property of the host.
type passTransport struct {
	p *Pass
}

type cachedResponse struct {
	status     int
	statusText string
	header     http.Header
	body       []byte
}

func (t *passTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Context(), passCounterKey{}, &t.p.counts)
	req = req.WithContext(ctx)
	if req.Method != http.MethodGet || classify(req) != KindPing {
		return t.p.c.rt.RoundTrip(req)
	}
	cr, err := t.p.pings.do(ctx, req.URL.String(), func() (*cachedResponse, error) {
		resp, err := t.p.c.rt.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		cr := &cachedResponse{status: resp.StatusCode, statusText: resp.Status, header: resp.Header.Clone(), body: body}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			// Only the answers that describe the host are kept; serve
			// this one to its caller and forget it.
			return cr, errNotCached{cr}
		}
		return cr, nil
	})
	var nc errNotCached
	if errors.As(err, &nc) {
		cr, err = nc.cr, nil
		t.p.pings.forget(req.URL.String())
	}
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        cr.statusText,
		StatusCode:    cr.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        cr.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(cr.body)),
		ContentLength: int64(len(cr.body)),
		Request:       req,
	}, nil
}

type errNotCached struct{ cr *cachedResponse }

func (errNotCached) Error() string { return "ping response not cached" }

// peek returns the result kept for key, if any, without running anything.
func (m *memo[T]) peek(key string) (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.done[key]
	return r.v, ok && r.err == nil
}

func (m *memo[T]) forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.done, key)
}

// SourceLabel is the OCI annotation and label that names an image's source
// repository.
const SourceLabel = "org.opencontainers.image.source"

// Source returns the source repository an image names, from the
// SourceLabel annotation of its manifest or index, else the label of its
// config (for an index, of its first platform image's); "" when none says.
// It costs the manifest (and config) requests Created would, cached alike.
func (p *Pass) Source(ctx context.Context, ref string) (string, error) {
	r, d, err := p.resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	src, err := p.source(ctx, d)
	if err != nil {
		return "", p.c.failure(fmt.Errorf("reading the source label of %s: %w", r, p.explain(err, d.Context())))
	}
	return src, nil
}

func (p *Pass) source(ctx context.Context, d name.Digest) (string, error) {
	desc, err := p.get(ctx, d)
	if err != nil {
		return "", err
	}
	switch {
	case desc.MediaType.IsImage():
		m, err := desc.Image()
		if err != nil {
			return "", decodeErr(err)
		}
		man, err := m.Manifest()
		if err != nil {
			return "", decodeErr(err)
		}
		if s := man.Annotations[SourceLabel]; s != "" {
			return s, nil
		}
		cf, err := p.config(ctx, d, desc)
		if err != nil {
			return "", err
		}
		return cf.Config.Labels[SourceLabel], nil
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return "", err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return "", decodeErr(err)
		}
		if s := im.Annotations[SourceLabel]; s != "" {
			return s, nil
		}
		for _, m := range im.Manifests {
			if attestation(m) || !m.MediaType.IsImage() {
				continue
			}
			return p.source(ctx, d.Context().Digest(m.Digest.String()))
		}
		return "", nil
	}
	return "", fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
}
