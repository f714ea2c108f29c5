package gitwriter

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ObjectTooLargeError is the error of a clone or fetch whose pack holds an
// object (a file, usually) larger than Options.MaxObjectSize. The pack is
// refused as it arrives, before the object reaches go-git, which would
// hold it in memory whole.
type ObjectTooLargeError struct {
	Size int64 // the object's size, as its header in the pack says
	Max  int64
	// delta is whether the pack held it as a delta, whose result is Size.
	delta bool
}

func (e *ObjectTooLargeError) Error() string {
	return fmt.Sprintf("the remote sent an object (a file, most likely) of %s, more than the %s limits.maxObjectSize allows: it is refused rather than held in memory; remove the file from the branch, or raise the limit", formatBytes(e.Size), formatBytes(e.Max))
}

// formatBytes writes n as limits are written: 100MiB, 1.5GiB, 512 bytes.
func formatBytes(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			s := fmt.Sprintf("%.1f", float64(n)/float64(u.size))
			return strings.TrimSuffix(s, ".0") + u.unit
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// packGuard is the writer a pack is fetched into: it hands each piece of
// the pack on to w only once a scan of the pack (scanPack, on a goroutine
// of its own) has read it, and refuses the rest of the pack once the scan
// fails, with an object too large or a pack it cannot read. An object
// stored whole is thus refused on its header, before a byte of it reaches
// w; a delta once its first bytes are inflated (at most one read of the
// inflater, 32 KiB, goes on before).
type packGuard struct {
	w      io.WriteCloser
	chunks chan []byte // to the scan
	acks   chan error  // from the scan: nil once it asks for more
	done   chan struct{}
	err    error // the scan's, once Write has seen it
}

// guardPack returns a packGuard writing to w, refusing objects above max.
func guardPack(w io.WriteCloser, max int64) *packGuard {
	g := &packGuard{w: w, chunks: make(chan []byte), acks: make(chan error), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		r := &chunkReader{chunks: g.chunks, acks: g.acks}
		err := scanPack(bufio.NewReaderSize(r, 64<<10), max)
		if errors.Is(err, io.ErrUnexpectedEOF) && r.closed {
			// The fetch ended the pack early: its own error says why.
			err = nil
		}
		// The scan is over: every piece still to come gets its verdict.
		if r.pending {
			g.acks <- err
		}
		for range g.chunks {
			g.acks <- err
		}
	}()
	return g
}

// Write hands p to the scan, and to w once the scan has read it all.
func (g *packGuard) Write(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	g.chunks <- p
	if err := <-g.acks; err != nil {
		g.err = err
		return 0, err
	}
	return g.w.Write(p)
}

// Close ends the pack, waits for the scan, and closes w.
func (g *packGuard) Close() error {
	close(g.chunks)
	<-g.done
	err := g.w.Close()
	if g.err != nil {
		return g.err
	}
	return err
}

// chunkReader reads the pieces Write hands over, one after the other. It
// answers (acks) for a piece when it is asked for more than the piece
// held: by then the scan, which reads in order, has read all of it.
type chunkReader struct {
	chunks  <-chan []byte
	acks    chan<- error
	cur     []byte
	pending bool // a piece is being read and has no answer yet
	closed  bool // Close ended the pack
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for len(r.cur) == 0 {
		if r.pending {
			r.pending = false
			r.acks <- nil
		}
		c, ok := <-r.chunks
		if !ok {
			r.closed = true
			return 0, io.EOF
		}
		r.cur, r.pending = c, true
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Object types of a pack (gitformat-pack).
const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOFSDelta = 6
	objREFDelta = 7
)

// scanPack reads a pack (version 2 or 3) from r to the end of its last
// object, and fails on the first object larger than max: an object whose
// header says so, or a delta whose result would be. Every object is
// inflated (and discarded) to find where the next one starts; one that
// inflates to another size than its header says is an error too. The
// trailing checksum is left to the reader of the pack.
func scanPack(r *bufio.Reader, max int64) error {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return packError("header", err)
	}
	if string(hdr[:4]) != "PACK" {
		return errors.New("the remote sent a pack without the PACK signature")
	}
	if v := binary.BigEndian.Uint32(hdr[4:8]); v != 2 && v != 3 {
		return fmt.Errorf("the remote sent a pack of version %d", v)
	}
	var z io.ReadCloser
	defer func() {
		if z != nil {
			z.Close()
		}
	}()
	count := binary.BigEndian.Uint32(hdr[8:12])
	for i := range count {
		typ, size, err := objectHeader(r)
		if err != nil {
			return packError(fmt.Sprintf("object %d", i), err)
		}
		switch typ {
		case objCommit, objTree, objBlob, objTag:
			if size > max {
				return &ObjectTooLargeError{Size: size, Max: max}
			}
		case objOFSDelta:
			// The base's offset: bytes with the high bit set, then one
			// without.
			for {
				c, err := r.ReadByte()
				if err != nil {
					return packError(fmt.Sprintf("object %d", i), err)
				}
				if c&0x80 == 0 {
					break
				}
			}
		case objREFDelta:
			if _, err := r.Discard(20); err != nil {
				return packError(fmt.Sprintf("object %d", i), err)
			}
		default:
			return fmt.Errorf("the remote sent a pack with an object of unknown type %d", typ)
		}
		if z == nil {
			z, err = zlib.NewReader(r)
		} else {
			err = z.(zlib.Resetter).Reset(r, nil)
		}
		if err != nil {
			return packError(fmt.Sprintf("object %d", i), err)
		}
		data := &countReader{r: io.LimitReader(z, size+1)}
		if typ == objOFSDelta || typ == objREFDelta {
			// A delta starts with the sizes of its base and its result.
			if _, err := varint(data); err != nil {
				return packError(fmt.Sprintf("object %d", i), err)
			}
			result, err := varint(data)
			if err != nil {
				return packError(fmt.Sprintf("object %d", i), err)
			}
			if result > max {
				return &ObjectTooLargeError{Size: result, Max: max, delta: true}
			}
		}
		if _, err := io.Copy(io.Discard, data); err != nil {
			return packError(fmt.Sprintf("object %d", i), err)
		}
		if data.n != size {
			return fmt.Errorf("reading the remote's pack (object %d): it inflates to another size than its header says", i)
		}
	}
	return nil
}

// objectHeader reads an object's type and size (the size of its data
// once inflated).
func objectHeader(r io.ByteReader) (typ int, size int64, err error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	typ = int(c>>4) & 7
	size = int64(c & 0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if shift > 56 {
			return 0, 0, errors.New("object size overflows")
		}
		if c, err = r.ReadByte(); err != nil {
			return 0, 0, err
		}
		size |= int64(c&0x7f) << shift
	}
	return typ, size, nil
}

// countReader counts what is read through it, and reads a byte at a time
// for varint.
type countReader struct {
	r   io.Reader
	n   int64
	one [1]byte
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(c, c.one[:]); err != nil {
		return 0, err
	}
	return c.one[0], nil
}

// varint reads a delta's size: 7 bits a byte, least significant first.
func varint(r io.ByteReader) (int64, error) {
	var n int64
	for shift := 0; ; shift += 7 {
		if shift > 56 {
			return 0, errors.New("delta size overflows")
		}
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			return n, nil
		}
	}
}

// packError says where a pack could not be read.
func packError(where string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading the remote's pack (%s): %w", where, err)
}
