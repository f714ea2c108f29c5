package gitwriter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// File is the new content of one file of the repository.
type File struct {
	Path    string // relative to the repository root, with forward slashes
	Content []byte
}

// Change is one rewritten value, for the commit message.
type Change struct {
	File   string
	Image  string
	Policy string
	Field  string // "ref", "tag", "name" or "digest"
	Old    string
	New    string
}

// OldVersion is Old without the image when it is a full reference of
// Image ("1.4.2" for ghcr.io/acme/web:1.4.2), else Old: the registry and
// path are said once, by Image.
func (c Change) OldVersion() string { return c.version(c.Old) }

// NewVersion is New as OldVersion shows Old.
func (c Change) NewVersion() string { return c.version(c.New) }

func (c Change) version(v string) string {
	if c.Image == "" {
		return v
	}
	if rest, ok := strings.CutPrefix(v, c.Image); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "@")) {
		return strings.TrimPrefix(rest, ":")
	}
	return v
}

// tag is the tag a change moves its field to: that of a full reference or
// a tag field; "" for name and digest fields.
func (c Change) tag() string {
	switch c.Field {
	case "ref":
		v := c.NewVersion()
		if v == c.New {
			return "" // not a reference of Image
		}
		tag, _, _ := strings.Cut(v, "@")
		return tag
	case "tag":
		return c.New
	}
	return ""
}

// ChangeSet is what one commit writes: the files and the changes they hold.
type ChangeSet struct {
	Files   []File
	Changes []Change
	// Message, when set, is the commit message instead of the template's
	// rendering of Changes (a Flux ImageUpdateAutomation's message, which
	// the caller renders); the trailer is appended all the same.
	Message string
}

// MessageData is what a commit message template sees.
type MessageData struct {
	Changes []Change
	// Images are the distinct images of Changes, sorted.
	Images []string
	// Version is the tag every change moves to when there is one image
	// and they agree on it, else "".
	Version string
}

// DefaultMessageTemplate is the commit message when none is configured: a
// subject that names the version as pull request titles do ("Update
// ghcr.io/acme/web to 1.5.0", or "Update 2 images"), then one "image old →
// new" line per change.
const DefaultMessageTemplate = `{{if eq (len .Images) 1}}Update {{index .Images 0}}{{with .Version}} to {{.}}{{end}}{{else}}Update {{len .Images}} images{{end}}
{{range .Changes}}
- {{.Image}} {{.OldVersion}} → {{.NewVersion}} ({{.File}})
{{- end}}
`

// Trailer ends the message of every commit the bot makes, whatever the
// template. With the author and committer it is how the bot tells its own
// commits from anyone else's.
const Trailer = "Imagebump-Bot: true"

// message is the commit message of changes, trailer included: given
// (ChangeSet.Message, rendered by the caller) when set, else the configured
// template's.
func (r *Repo) message(changes []Change, given string) (string, error) {
	if msg := strings.TrimSpace(given); msg != "" {
		return msg + "\n\n" + Trailer + "\n", nil
	}
	return renderMessage(r.tmpl, changes)
}

// Message is the message a Repo whose Options.MessageTemplate is template
// gives the commit of cs, trailer included: what a dry run shows of the
// commit it does not make.
func Message(template string, cs ChangeSet) (string, error) {
	tmpl, err := parseMessageTemplate(template)
	if err != nil {
		return "", err
	}
	r := Repo{tmpl: tmpl}
	return r.message(cs.Changes, cs.Message)
}

// parseMessageTemplate parses a commit message template; empty means
// DefaultMessageTemplate.
func parseMessageTemplate(text string) (*template.Template, error) {
	if text == "" {
		text = DefaultMessageTemplate
	}
	tmpl, err := template.New("message").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("commit messageTemplate: %w", err)
	}
	return tmpl, nil
}

func renderMessage(tmpl *template.Template, changes []Change) (string, error) {
	data := MessageData{Changes: changes}
	seen := map[string]bool{}
	for _, c := range changes {
		if !seen[c.Image] {
			seen[c.Image] = true
			data.Images = append(data.Images, c.Image)
		}
	}
	sort.Strings(data.Images)
	if len(data.Images) == 1 {
		data.Version = version(changes)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering the commit message template: %w", err)
	}
	msg := strings.TrimSpace(b.String())
	if msg == "" {
		return "", errors.New("the commit message template rendered an empty message")
	}
	return msg + "\n\n" + Trailer + "\n", nil
}

// version is the one tag changes move to, or "" when they name none or
// several.
func version(changes []Change) string {
	v := ""
	for _, c := range changes {
		t := c.tag()
		switch {
		case t == "":
		case v == "":
			v = t
		case v != t:
			return ""
		}
	}
	return v
}

// hasTrailer reports whether the last paragraph of a message holds the
// bot's trailer.
func hasTrailer(msg string) bool {
	msg = strings.TrimRight(msg, "\n")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	}
	for line := range strings.SplitSeq(msg, "\n") {
		if strings.TrimSpace(line) == Trailer {
			return true
		}
	}
	return false
}

// checkPath refuses paths that are not plain relative paths inside the
// repository, or that point into .git.
func checkPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") {
		return fmt.Errorf("file path %q is not a clean relative path", p)
	}
	for c := range strings.SplitSeq(p, "/") {
		if strings.EqualFold(c, ".git") {
			return fmt.Errorf("file path %q is inside .git", p)
		}
	}
	return nil
}

// commitFiles writes a commit whose tree is parent's with files replaced,
// built in the object store without touching the worktree. It returns the
// zero hash when the tree would not change: no empty commits.
func (r *Repo) commitFiles(parent plumbing.Hash, cs ChangeSet) (plumbing.Hash, error) {
	tree, same, err := r.treeWith(parent, cs.Files)
	if err != nil || same {
		return plumbing.ZeroHash, err
	}
	return r.newCommit(parent, tree, cs.Changes, cs.Message)
}

// treeWith stores the tree of parent with files replaced and returns its
// hash, and whether it is parent's own tree.
func (r *Repo) treeWith(parent plumbing.Hash, fs []File) (plumbing.Hash, bool, error) {
	pc, err := object.GetCommit(r.repo.Storer, parent)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("reading commit %s: %w", parent, err)
	}
	files := make(map[string][]byte, len(fs))
	for _, f := range fs {
		if err := checkPath(f.Path); err != nil {
			return plumbing.ZeroHash, false, err
		}
		if _, dup := files[f.Path]; dup {
			return plumbing.ZeroHash, false, fmt.Errorf("file %q given twice", f.Path)
		}
		files[f.Path] = f.Content
	}
	tree, err := writeTree(r.repo.Storer, pc.TreeHash, files, "")
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	return tree, tree == pc.TreeHash, nil
}

// newCommit stores a commit of tree on parent by the bot, with the
// message of changes, signed when a key is set.
func (r *Repo) newCommit(parent, tree plumbing.Hash, changes []Change, message string) (plumbing.Hash, error) {
	s := r.repo.Storer
	msg, err := r.message(changes, message)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	now := time.Now()
	sig := object.Signature{Name: r.opts.Author.Name, Email: r.opts.Author.Email, When: now}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      msg,
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent},
	}
	if r.signer != nil {
		if c.PGPSignature, err = sign(c, r.signer); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	obj := s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// writeTree stores the tree that is base (zero: empty) with files (path
// relative to this tree → content) replaced, and returns its hash. prefix
// is the tree's path ("apps/web/", "" at the root): errors name the whole
// path of what they are about.
func writeTree(s storer.EncodedObjectStorer, base plumbing.Hash, files map[string][]byte, prefix string) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !base.IsZero() {
		t, err := object.GetTree(s, base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading the tree of %s (%s): %w", treeName(prefix), base, err)
		}
		entries = append(entries, t.Entries...)
	}
	index := func(name string) int {
		for i, e := range entries {
			if e.Name == name {
				return i
			}
		}
		return -1
	}
	subdirs := map[string]map[string][]byte{}
	for p, content := range files {
		dir, rest, nested := strings.Cut(p, "/")
		if nested {
			if subdirs[dir] == nil {
				subdirs[dir] = map[string][]byte{}
			}
			subdirs[dir][rest] = content
			continue
		}
		blob, err := writeBlob(s, content)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("storing %s%s: %w", prefix, p, err)
		}
		i := index(p)
		if i < 0 {
			entries = append(entries, object.TreeEntry{Name: p, Mode: filemode.Regular, Hash: blob})
			continue
		}
		if m := entries[i].Mode; m != filemode.Regular && m != filemode.Executable && m != filemode.Deprecated {
			return plumbing.ZeroHash, fmt.Errorf("%s%s is not a regular file (mode %s)", prefix, p, m)
		}
		entries[i].Hash = blob
	}
	for dir, sub := range subdirs {
		i := index(dir)
		var subBase plumbing.Hash
		if i >= 0 {
			if entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s%s is not a directory (mode %s)", prefix, dir, entries[i].Mode)
			}
			subBase = entries[i].Hash
		}
		h, err := writeTree(s, subBase, sub, prefix+dir+"/")
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if i < 0 {
			entries = append(entries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h})
		} else {
			entries[i].Hash = h
		}
	}
	// git orders entries by name, a directory's name as if it ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	t := &object.Tree{Entries: entries}
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing the tree of %s: %w", treeName(prefix), err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing the tree of %s: %w", treeName(prefix), err)
	}
	return h, nil
}

// treeName names the tree at prefix in a message.
func treeName(prefix string) string {
	if prefix == "" {
		return "the repository's root"
	}
	return prefix
}

func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// readSigningKey reads the first private key of an armored key file,
// decrypted with the passphrase file when it is encrypted.
func readSigningKey(keyFile, passphraseFile string) (*openpgp.Entity, error) {
	f, err := os.Open(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading commit signingKeyFile: %w", err)
	}
	defer f.Close()
	ring, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil {
		return nil, fmt.Errorf("reading commit signingKeyFile %s: %w", keyFile, err)
	}
	var e *openpgp.Entity
	for _, cand := range ring {
		if cand.PrivateKey != nil {
			e = cand
			break
		}
	}
	if e == nil {
		return nil, fmt.Errorf("commit signingKeyFile %s holds no private key", keyFile)
	}
	if e.PrivateKey.Encrypted {
		if passphraseFile == "" {
			return nil, fmt.Errorf("commit signingKeyFile %s is encrypted and no passphrase file is set", keyFile)
		}
		pass, err := os.ReadFile(passphraseFile)
		if err != nil {
			return nil, fmt.Errorf("reading the signing key passphrase file: %w", err)
		}
		if err := e.DecryptPrivateKeys(bytes.TrimRight(pass, "\r\n")); err != nil {
			return nil, fmt.Errorf("decrypting commit signingKeyFile %s: wrong passphrase? %w", keyFile, err)
		}
	}
	return e, nil
}

// sign returns the armored detached signature of c as git computes it: over
// the commit object without its signature.
func sign(c *object.Commit, e *openpgp.Entity) (string, error) {
	obj := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(obj); err != nil {
		return "", err
	}
	rd, err := obj.Reader()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, e, rd, nil); err != nil {
		return "", fmt.Errorf("signing the commit: %w", err)
	}
	return b.String(), nil
}
