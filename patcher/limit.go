package patcher

import (
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFileSize is the size above which ReadTree does not read a
// file: a manifest that large is not written by hand, and reading it whole
// (and planning a rewrite of it) would let anyone who can push one file
// take the memory of every pass.
const DefaultMaxFileSize = 4 << 20

// Option changes how ReadTree and the functions built on it read a tree.
type Option func(*options)

type options struct {
	maxFileSize int64
}

func newOptions(opts []Option) options {
	o := options{maxFileSize: DefaultMaxFileSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithMaxFileSize sets the size in bytes above which a file is not read.
// Such a file is scanned in small pieces for "imagepolicy"; when it has
// it, it is a Problem (its markers are not applied), else it is passed
// over like any file without markers. Default DefaultMaxFileSize; n <= 0
// means the default.
func WithMaxFileSize(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxFileSize = n
		}
	}
}

// tooLarge describes a file above the size bound.
type tooLarge struct {
	size     int64
	mentions bool // the file mentions imagepolicy, in any case
}

func (t *tooLarge) problem(limit int64) string {
	return fmt.Sprintf("the file is %d bytes, more than the %s bound on manifests: it was not read, so its markers are not applied", t.size, formatSize(limit))
}

// scanLarge reads r to its end in pieces of a fixed size and says how long
// it is and whether it mentions imagepolicy, in any case.
func scanLarge(r io.Reader, buf []byte) (*tooLarge, error) {
	const word = "imagepolicy"
	if len(buf) < 64<<10 {
		buf = make([]byte, 64<<10)
	}
	t := &tooLarge{}
	keep := 0 // bytes carried over from the last piece, for a word split in two
	for {
		n, err := r.Read(buf[keep:])
		t.size += int64(n)
		end := keep + n
		if !t.mentions {
			t.mentions = containsFold(buf[:end], word)
		}
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		keep = min(end, len(word)-1)
		copy(buf, buf[end-keep:end])
	}
}

// containsFold reports whether b holds word, a lowercase ASCII word, in
// any case of its letters. Unlike searching bytes.ToLower(b), it allocates
// nothing: lowering bytes that are not UTF-8 (any large file's) turns each
// into three.
func containsFold(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		j := 0
		for j < len(word) && b[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// formatSize writes n bytes the way limits are written: 4MiB, 1.5MiB,
// 200KiB, 512 bytes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(1<<20))) + "MiB"
	case n >= 1<<10:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(1<<10))) + "KiB"
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func trimZero(s string) string {
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}
