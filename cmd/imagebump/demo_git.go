package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// demoFleet is the sample fleet repository of the demo. Its images name
// the registry localhost:5000; the demo writes the address of the registry
// it started instead.
//
//go:embed all:demofleet
var demoFleet embed.FS

const demoFleetRoot = "demofleet"

// demoRepoPath is the URL path the demo's git server serves the fleet at.
const demoRepoPath = "/acme/fleet.git"

// A git server for the demo.
//
// The container image has no git binary, and go-git's file:// transport
// runs git-upload-pack and git-receive-pack, so the demo cannot use a plain
// path as the remote. go-git's in-process server could be installed for
// the file scheme instead (client.InstallProtocol), but that is a
// process-wide setting (a map go-git reads without a lock), the pass would
// then reach its remote through a transport no real remote uses, and that
// server refuses the one-commit-deep clone gitwriter asks for. So
// the demo serves the bare repository over git's smart HTTP protocol on
// 127.0.0.1, with go-git's server package speaking the git side: the bot
// reaches it with the HTTP transport it uses for any https remote, and
// nothing global changes.
//
// The server answers a shallow request with the whole history (a few
// commits here; see uploadPack); it does not check a ref's old value on update, which git's
// receive-pack does: good enough for one pass, not for a real remote.

// startGitServer serves the bare repository in dir on 127.0.0.1 and
// returns its URL and a function that stops the server.
func startGitServer(dir string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the demo git server: %w", err)
	}
	srv := &http.Server{Handler: &gitHandler{dir: dir}, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + demoRepoPath, func() { srv.Close() }, nil
}

// gitHandler serves one bare repository over smart HTTP: the ref
// advertisement, upload-pack (fetch) and receive-pack (push).
type gitHandler struct {
	dir string
	mu  sync.Mutex // one request at a time: the storage is not shared safely
}

// Load opens the repository afresh for every request, so each sees the
// refs the last push wrote. It makes gitHandler a server.Loader.
func (h *gitHandler) Load(*transport.Endpoint) (storer.Storer, error) {
	r, err := git.PlainOpen(h.dir)
	if err != nil {
		return nil, err
	}
	return r.Storer, nil
}

func (h *gitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, demoRepoPath+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	srv := server.NewServer(h)
	ep := &transport.Endpoint{Protocol: "http", Host: r.Host, Path: demoRepoPath}
	var err error
	switch {
	case r.Method == http.MethodGet && rest == "info/refs":
		err = h.advertise(r.Context(), w, srv, ep, r.URL.Query().Get("service"))
	case r.Method == http.MethodPost && rest == transport.UploadPackServiceName:
		err = h.uploadPack(r.Context(), w, r.Body, srv, ep)
	case r.Method == http.MethodPost && rest == transport.ReceivePackServiceName:
		err = h.receivePack(r.Context(), w, r.Body, srv, ep)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		// Before the first byte of the answer this is a 500; after it, the
		// client sees a broken answer, which is all HTTP allows.
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (h *gitHandler) advertise(ctx context.Context, w http.ResponseWriter, srv transport.Transport, ep *transport.Endpoint, service string) error {
	var sess interface {
		AdvertisedReferencesContext(context.Context) (*packp.AdvRefs, error)
	}
	var err error
	switch service {
	case transport.UploadPackServiceName:
		sess, err = srv.NewUploadPackSession(ep, nil)
	case transport.ReceivePackServiceName:
		sess, err = srv.NewReceivePackSession(ep, nil)
	default:
		return fmt.Errorf("service %q: only the smart protocol is served", service)
	}
	if err != nil {
		return err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return err
	}
	ar.Prefix = [][]byte{[]byte("# service=" + service), pktline.Flush}
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	return ar.Encode(w)
}

func (h *gitHandler) uploadPack(ctx context.Context, w http.ResponseWriter, body io.Reader, srv transport.Transport, ep *transport.Endpoint) error {
	req := packp.NewUploadPackRequest()
	if err := req.UploadRequest.Decode(body); err != nil {
		return fmt.Errorf("reading the upload-pack request: %w", err)
	}
	// The haves follow the wants; packp has no decoder for them.
	s := pktline.NewScanner(body)
	for s.Scan() {
		line := strings.TrimSuffix(string(s.Bytes()), "\n")
		if have, ok := strings.CutPrefix(line, "have "); ok {
			req.Haves = append(req.Haves, plumbing.NewHash(have))
		}
		if line == "done" {
			break
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("reading the upload-pack haves: %w", err)
	}
	// go-git's server refuses depth (gitwriter clones one commit deep):
	// it is asked for everything instead, and the answer says that no
	// commit is shallow, which is true of a full history.
	shallow := !req.Depth.IsZero()
	if shallow {
		req.Capabilities.Delete(capability.Shallow)
		req.Depth = packp.DepthCommits(0)
	}
	sess, err := srv.NewUploadPackSession(ep, nil)
	if err != nil {
		return err
	}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Close()
	w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
	if shallow {
		// An empty shallow-update section.
		if err := pktline.NewEncoder(w).Flush(); err != nil {
			return err
		}
	}
	return resp.Encode(w)
}

func (h *gitHandler) receivePack(ctx context.Context, w http.ResponseWriter, body io.Reader, srv transport.Transport, ep *transport.Endpoint) error {
	req := packp.NewReferenceUpdateRequest()
	if err := req.Decode(body); err != nil {
		return fmt.Errorf("reading the receive-pack request: %w", err)
	}
	sess, err := srv.NewReceivePackSession(ep, nil)
	if err != nil {
		return err
	}
	status, err := sess.ReceivePack(ctx, req)
	if status == nil {
		return err
	}
	// A refused update is in the status report, which the client reads.
	w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
	return status.Encode(w)
}

// createFleet writes the sample fleet, with localhost:5000 replaced by
// registryHost, into a new repository at checkout, commits it on main, and
// pushes it to the empty bare repository at bare through the git server at
// url. The checkout's origin is the bare repository's path, for a person
// looking at a kept demo with git.
func createFleet(ctx context.Context, checkout, bare, url, registryHost string) error {
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
		Bare:        true,
	}); err != nil {
		return fmt.Errorf("creating the bare remote: %w", err)
	}
	repo, err := git.PlainInitWithOptions(checkout, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	})
	if err != nil {
		return fmt.Errorf("creating the sample checkout: %w", err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{bare}}); err != nil {
		return err
	}
	if err := repo.CreateBranch(&gitconfig.Branch{Name: "main", Remote: "origin", Merge: plumbing.NewBranchReferenceName("main")}); err != nil {
		return err
	}
	if err := writeFleet(checkout, registryHost); err != nil {
		return fmt.Errorf("writing the sample fleet: %w", err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return fmt.Errorf("adding the sample fleet: %w", err)
	}
	who := &object.Signature{Name: "Fleet Maintainer", Email: "fleet@example.com", When: time.Now()}
	if _, err := wt.Commit("Sample fleet for the imagebump demo\n", &git.CommitOptions{Author: who, Committer: who}); err != nil {
		return fmt.Errorf("committing the sample fleet: %w", err)
	}
	err = repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin",
		RemoteURL:  url,
		RefSpecs:   []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"},
	})
	if err != nil {
		return fmt.Errorf("pushing the sample fleet to %s: %w", url, err)
	}
	return nil
}

// writeFleet copies demoFleet to dir, pointing its images at registryHost.
func writeFleet(dir, registryHost string) error {
	return fs.WalkDir(demoFleet, demoFleetRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, demoFleetRoot), "/")
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := demoFleet.ReadFile(p)
		if err != nil {
			return err
		}
		b = []byte(strings.ReplaceAll(string(b), "localhost:5000", registryHost))
		return os.WriteFile(target, b, 0o644)
	})
}

// pushedCommit reads branch's tip commit in the bare repository at dir.
func pushedCommit(dir, branch string) (*object.Commit, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the bare remote: %w", err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("reading %s of the bare remote: %w", branch, err)
	}
	return repo.CommitObject(ref.Hash())
}

// checkKeepDir makes sure dir exists and is empty, so that the demo never
// mixes its repositories with, or removes, anything else.
func checkKeepDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("--keep %s is not empty (it holds %s, …); give a new or empty directory", dir, entries[0].Name())
	}
	return nil
}
