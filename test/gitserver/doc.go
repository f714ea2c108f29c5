// Package gitserver serves bare git repositories to tests: over smart HTTP
// through Debian's git http-backend (behind net/http/cgi, with a token
// check), and over SSH through an in-process golang.org/x/crypto/ssh server
// that runs git-upload-pack and git-receive-pack. Tests use its helpers to
// create repositories, commit on the server side as someone other than the
// bot, and read refs, files and history back.
package gitserver
