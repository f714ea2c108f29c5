package gitserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// SSH serves the repositories of a Server over SSH on 127.0.0.1, to one
// client key.
type SSH struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// KeyFile is the client's private key (OpenSSH PEM, no passphrase), the
	// only key the server accepts.
	KeyFile string
	// KnownHostsFile lists the server's host key for Addr.
	KnownHostsFile string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey

	srv *Server
	ln  net.Listener
	wg  sync.WaitGroup
}

// StartSSH serves s's repositories over SSH until the test ends. It writes
// a fresh client key and a known_hosts file naming the host key into temp
// files.
func (s *Server) StartSSH(t testing.TB) *SSH {
	t.Helper()
	dir := t.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "gitserver test client")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	authorized, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown public key")
		},
	}
	cfg.AddHostKey(hostSigner)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x := &SSH{Addr: ln.Addr().String(), KeyFile: keyFile, HostKey: hostSigner.PublicKey(), srv: s, ln: ln}
	x.KnownHostsFile = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(x.KnownHostsFile, []byte(KnownHostsLine(x.Addr, x.HostKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			x.wg.Add(1)
			go func() {
				defer x.wg.Done()
				x.serveConn(conn, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		x.wg.Wait()
	})
	return x
}

// KnownHostsLine returns the known_hosts line for key at addr
// ("[127.0.0.1]:PORT ssh-ed25519 AAAA…\n").
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	host, port, _ := net.SplitHostPort(addr)
	if port != "22" {
		host = "[" + host + "]:" + port
	}
	return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
}

// RepoURL returns the ssh:// URL of the repository name.
func (x *SSH) RepoURL(name string) string { return "ssh://git@" + x.Addr + "/" + name + ".git" }

var sshCommand = regexp.MustCompile(`^(git-upload-pack|git-receive-pack) '?/?([A-Za-z0-9._-]+)\.git'?$`)

func (x *SSH) serveConn(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			x.serveSession(ch, chReqs)
		}()
	}
}

func (x *SSH) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "env":
			// go-git asks for GIT_PROTOCOL; protocol v0 is what it speaks.
			_ = req.Reply(true, nil)
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			m := sshCommand.FindStringSubmatch(payload.Command)
			if m == nil {
				_ = req.Reply(false, nil)
				fmt.Fprintf(ch.Stderr(), "gitserver: refused command %q\n", payload.Command)
				sendExit(ch, 128)
				return
			}
			_ = req.Reply(true, nil)
			cmd := exec.Command("git", strings.TrimPrefix(m[1], "git-"), x.srv.Dir(m[2]))
			cmd.Env = x.srv.env(nil)
			cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
			// Not cmd.Stdin = ch: Wait would wait for a copy that blocks
			// until the client closes its side, which it does only after
			// the command's exit status.
			stdin, err := cmd.StdinPipe()
			if err != nil {
				sendExit(ch, 128)
				return
			}
			go func() {
				_, _ = io.Copy(stdin, ch)
				stdin.Close()
			}()
			code := 0
			if err := cmd.Run(); err != nil {
				code = 1
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				}
			}
			_ = ch.CloseWrite()
			sendExit(ch, code)
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

func sendExit(ch ssh.Channel, code int) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(code))
	_, _ = ch.SendRequest("exit-status", false, b[:])
}
