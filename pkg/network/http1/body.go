package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// Chunked framing limits. A chunk-size line (with its extensions) may be
// maxChunkLine bytes, a quarter of net/http's; the overhead that is not
// data (size lines, extensions, CRLFs) is tracked as net/http tracks it
// (16 bytes per chunk and twice the data are free) but capped at
// maxChunkExcess, a quarter of its 16 KiB: so whatever the fast path
// accepts, net/http accepts too. Trailers may total maxTrailerBytes.
const (
	maxChunkLine    = 1024
	maxChunkExcess  = 4 << 10
	maxTrailerBytes = 8 << 10
	// maxChunkDigits keeps a chunk size below 2^60: no overflow, and
	// below net/http's 16 digits.
	maxChunkDigits = 15
)

var (
	errChunkLine     = errors.New("http1: malformed chunk-size line")
	errChunkTooLarge = errors.New("http1: chunk size too large")
	errChunkExcess   = errors.New("http1: chunked body carries too much that is not data")
	errChunkEnd      = errors.New("http1: chunk data not followed by CRLF")
	errTrailer       = errors.New("http1: malformed trailer section")
	// errReadBody and errWriteBody tell which side of a copy failed.
	errReadBody  = errors.New("reading the body")
	errWriteBody = errors.New("writing the body")
)

// body reads one message body from br and writes it, framed anew, into
// an output buffer: a Content-Length body as it is, a chunked or
// close-delimited one as chunks (extensions dropped, trailers filtered).
type body struct {
	br   *bufio.Reader
	kind framing
	// left is what remains of a length body, or of the current chunk.
	left int64
	// inChunk: a chunk's data is being read (chunked only).
	inChunk bool
	// excess is the chunk overhead beyond what data pays for.
	excess int64
	done   bool
	// trailer filters and collects the trailer section (chunked only).
	trailers []byte
}

func (b *body) reset(br *bufio.Reader, kind framing, length int64) {
	*b = body{br: br, kind: kind, left: length, trailers: b.trailers[:0]}
	if kind == noBody {
		b.done = true
	}
}

// chunkedOut reports whether the body goes out chunked.
func (b *body) chunkedOut() bool { return b.kind == chunkedBody || b.kind == closeBody }

// chunkHeaderRoom is the room a chunk header takes at most: 16 hex digits
// and CRLF.
const chunkHeaderRoom = 18

// fill appends to out what of the body can be had: only bytes already
// buffered when wait is false, else at least one read's worth. It
// returns out and whether the body is complete; once it is, the chunked
// terminator (and trailers) have been appended too. Errors are wrapped in
// errReadBody.
func (b *body) fill(out []byte, wait bool) ([]byte, error) {
	for !b.done {
		if b.kind == chunkedBody && !b.inChunk {
			if !wait && !b.lineBuffered() {
				return out, nil
			}
			if err := b.nextChunk(); err != nil {
				return out, readErr(err)
			}
			if b.done {
				return b.appendEnd(out), nil
			}
			continue
		}
		room := cap(out) - len(out)
		if b.chunkedOut() {
			room -= chunkHeaderRoom + 2
		}
		if room <= 0 {
			return out, nil
		}
		n := int64(room)
		if b.kind != closeBody && b.left < n {
			n = b.left
		}
		if !wait {
			n = min(n, int64(b.br.Buffered()))
			if n == 0 {
				return out, nil
			}
		}
		// Read past the chunk header's room, then close the gap once the
		// size is known: one copy of the data, out of the kernel, at most.
		start := len(out)
		dataAt := start
		if b.chunkedOut() {
			dataAt += chunkHeaderRoom
		}
		got, err := b.br.Read(out[dataAt : dataAt+int(n)])
		if got > 0 {
			out = out[:dataAt+got]
			if b.chunkedOut() {
				var hdr [chunkHeaderRoom]byte
				h := strconv.AppendInt(hdr[:0], int64(got), 16)
				h = append(h, '\r', '\n')
				copy(out[start+len(h):], out[dataAt:dataAt+got])
				copy(out[start:], h)
				out = out[:start+len(h)+got]
				out = append(out, '\r', '\n')
			}
			b.left -= int64(got)
		}
		if err != nil {
			if b.kind == closeBody && err == io.EOF {
				b.done = true
				return b.appendEnd(out), nil
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return out, readErr(err)
		}
		if b.kind == lengthBody && b.left == 0 {
			b.done = true
			return out, nil
		}
		if b.kind == chunkedBody && b.left == 0 {
			if err := b.endChunk(); err != nil {
				return out, readErr(err)
			}
		}
		wait = false // one blocking read per call at most
	}
	return out, nil
}

func readErr(err error) error { return errors.Join(errReadBody, err) }

// lineBuffered reports whether a whole line is in the buffer.
func (b *body) lineBuffered() bool {
	buf, _ := b.br.Peek(b.br.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}

// appendEnd appends the end of a chunked output: the last chunk and the
// trailers.
func (b *body) appendEnd(out []byte) []byte {
	if !b.chunkedOut() {
		return out
	}
	out = append(out, "0\r\n"...)
	out = append(out, b.trailers...)
	return append(out, '\r', '\n')
}

// readLine reads one CRLF-terminated line of a chunked body, without its
// CRLF: a bare LF or a CR elsewhere in it is an error, as net/http says.
func (b *body) readLine() ([]byte, error) {
	line, err := b.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			err = errChunkLine
		}
		return nil, err
	}
	if i := bytes.IndexByte(line, '\r'); i < 0 || i != len(line)-2 {
		return nil, errChunkLine
	}
	return line[:len(line)-2], nil
}

// nextChunk reads a chunk-size line: hex digits, then nothing or chunk
// extensions (which are dropped). A zero size ends the data and reads the
// trailer section.
func (b *body) nextChunk() error {
	line, err := b.readLine()
	if err != nil {
		return err
	}
	if len(line) > maxChunkLine {
		return errChunkLine
	}
	b.excess += int64(len(line)) + 2
	digits := line
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		digits = line[:i]
		if !validFieldValue(line[i:]) {
			return errChunkLine
		}
	}
	if len(digits) == 0 {
		return errChunkLine
	}
	if len(digits) > maxChunkDigits {
		return errChunkTooLarge
	}
	var n int64
	for _, c := range digits {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return errChunkLine
		}
		n = n<<4 | int64(d)
	}
	b.excess = max(b.excess-16-2*n, 0)
	if b.excess > maxChunkExcess {
		return errChunkExcess
	}
	if n == 0 {
		if err := b.readTrailers(); err != nil {
			return err
		}
		b.done = true
		return nil
	}
	b.left = n
	b.inChunk = true
	return nil
}

// endChunk reads the CRLF after a chunk's data.
func (b *body) endChunk() error {
	b.inChunk = false
	crlfBytes, err := b.br.Peek(2)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if crlfBytes[0] != '\r' || crlfBytes[1] != '\n' {
		return errChunkEnd
	}
	_, _ = b.br.Discard(2)
	return nil
}

// readTrailers reads the trailer section up to its empty line, keeping
// the fields that may be forwarded: framing and hop-by-hop fields are
// dropped (RFC 9110 §6.5.1).
func (b *body) readTrailers() error {
	total := 0
	for {
		line, err := b.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		total += len(line) + 2
		if total > maxTrailerBytes || line[0] == ' ' || line[0] == '\t' {
			return errTrailer
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) || !validFieldValue(line[colon+1:]) {
			return errTrailer
		}
		name := line[:colon]
		if isHopByHop(name) || equalFold(name, "Content-Length") || equalFold(name, "Host") {
			continue
		}
		b.trailers = append(b.trailers, name...)
		b.trailers = append(b.trailers, ": "...)
		b.trailers = append(b.trailers, trimOWS(line[colon+1:])...)
		b.trailers = append(b.trailers, '\r', '\n')
	}
}

// copyTo writes the whole body to w through out (whose contents, such as
// a head, go first), writing whenever the reader would block, so that a
// stream reaches w as it arrives and a small message leaves in one write.
// beforeWait runs before each blocking read (to set a deadline). It
// returns out emptied for reuse.
func (b *body) copyTo(w io.Writer, out []byte, beforeWait func()) ([]byte, error) {
	var err error
	write := func() error {
		if len(out) == 0 {
			return nil
		}
		if _, werr := w.Write(out); werr != nil {
			return errors.Join(errWriteBody, werr)
		}
		out = out[:0]
		return nil
	}
	for {
		had, buffered := len(out), b.br.Buffered()
		out, err = b.fill(out, false)
		if err != nil {
			return out, err
		}
		if b.done || cap(out)-len(out) < chunkHeaderRoom+64 {
			if err := write(); err != nil {
				return out[:0], err
			}
			if b.done {
				return out, nil
			}
		}
		if b.br.Buffered() == 0 || (len(out) == had && b.br.Buffered() == buffered) {
			// The next read may block: what is held goes out first.
			if err := write(); err != nil {
				return out[:0], err
			}
			if beforeWait != nil {
				beforeWait()
			}
			if out, err = b.fill(out, true); err != nil {
				return out, err
			}
		}
	}
}
