package http1

import (
	"bytes"
	"errors"
)

// maxFields bounds the header fields of a head the fast path parses; a
// head with more is declined (requests) or refused (responses). It sizes
// the per-connection field table, which is reused request after request.
const maxFields = 128

// field is one header field as received: slices of the head's bytes, the
// value stripped of surrounding whitespace.
type field struct {
	name, value []byte
	// hop marks a field not to forward: hop-by-hop (RFC 9110 §7.6.1),
	// named by Connection, framing the fast path re-frames itself, or
	// owned by the proxy's rewrite.
	hop bool
}

// header is a parsed head's fields, in order.
type header struct {
	fields []field
}

// Get returns the value of the first field called name (ASCII
// case-insensitive), or nil.
func (h *header) Get(name string) []byte {
	for i := range h.fields {
		if equalFold(h.fields[i].name, name) {
			return h.fields[i].value
		}
	}
	return nil
}

// Has reports whether a field called name is present.
func (h *header) Has(name string) bool {
	for i := range h.fields {
		if equalFold(h.fields[i].name, name) {
			return true
		}
	}
	return false
}

// Values calls fn with the value of each field called name, in order.
func (h *header) Values(name string, fn func(value []byte)) {
	for i := range h.fields {
		if equalFold(h.fields[i].name, name) {
			fn(h.fields[i].value)
		}
	}
}

// markHop marks every field called name as not forwarded.
func (h *header) markHop(name []byte) {
	for i := range h.fields {
		if equalFoldBytes(h.fields[i].name, name) {
			h.fields[i].hop = true
		}
	}
}

// hopByHop are the fields RFC 9110 §7.6.1 says a proxy must not forward,
// with those net/http's ReverseProxy also removes (Proxy-Authenticate and
// Proxy-Authorization concern the hop), so that the fast path's output
// matches it. TE's "trailers" is passed on apart; Trailer stays with a
// chunked body, the only one that can carry trailers (framingFields).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Transfer-Encoding", "Upgrade",
}

func isHopByHop(name []byte) bool {
	for _, h := range hopByHop {
		if equalFold(name, h) {
			return true
		}
	}
	return false
}

// errHeadTooLarge says a head did not fit the reader's buffer.
var errHeadTooLarge = errors.New("http1: message head larger than the buffer")

// errBareLF says a head has a line ending in LF without CR.
var errBareLF = errors.New("http1: bare LF in the message head")

// scanHead looks for the end of a head (an empty line) in buf, starting
// at line, the offset of the first line not yet scanned. It returns the
// head's length once found (0 otherwise) and where to resume. A line that
// ends in a bare LF, or a CR not followed by LF, is errBareLF.
func scanHead(buf []byte, line int) (end, resume int, err error) {
	for {
		i := bytes.IndexByte(buf[line:], '\n')
		if i < 0 {
			return 0, line, nil
		}
		nl := line + i
		if nl == 0 || buf[nl-1] != '\r' {
			return 0, line, errBareLF
		}
		if nl-line == 1 {
			return nl + 1, nl + 1, nil
		}
		line = nl + 1
	}
}

// splitLines calls fn with each line of head (without its CRLF), the
// final empty line excluded. It stops when fn returns false.
func splitLines(head []byte, fn func(line []byte) bool) {
	for len(head) > 0 {
		i := bytes.Index(head, crlf)
		if i <= 0 {
			return
		}
		if !fn(head[:i]) {
			return
		}
		head = head[i+2:]
	}
}

var crlf = []byte("\r\n")

// parseFields parses the field lines of a head (after its start line)
// into h. It reports false for anything RFC 9112 or net/http would not
// take: obs-fold, a name that is not a token, whitespace before the colon,
// a value with control characters, or more than maxFields fields.
func parseFields(lines []byte, h *header) bool {
	h.fields = h.fields[:0]
	ok := true
	splitLines(lines, func(line []byte) bool {
		if line[0] == ' ' || line[0] == '\t' {
			ok = false // obs-fold (RFC 9112 §5.2): refused, never unfolded
			return false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || len(h.fields) == maxFields {
			ok = false
			return false
		}
		name := line[:colon]
		if !isToken(name) {
			ok = false
			return false
		}
		value := trimOWS(line[colon+1:])
		if !validFieldValue(value) {
			ok = false
			return false
		}
		h.fields = append(h.fields, field{name: name, value: value})
		return true
	})
	return ok
}

func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// tokenByte is RFC 9110's tchar.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

// validFieldValue allows what net/http's server does (httpguts'
// ValidHeaderFieldValue): every byte but the controls other than HTAB.
func validFieldValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// hostByte is what net/http accepts in a Host header (httpguts'
// validHostByte): a lenient superset of RFC 3986's host and port.
var hostByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = tokenByte[c]
	}
	for _, c := range "`^|#" {
		t[c] = false // tchar but not in a host
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return t
}()

func validHost(v []byte) bool {
	for _, c := range v {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// tokens calls fn with each comma-separated element of a list value,
// whitespace trimmed, empty elements skipped (RFC 9110 §5.6.1).
func tokens(v []byte, fn func(tok []byte)) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		if tok = trimOWS(tok); len(tok) > 0 {
			fn(tok)
		}
	}
}

// parseContentLength reads a Content-Length value: decimal digits only,
// no sign, no list, at most 18 digits (below 2^63, as net/http requires).
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// framing is how a message's body is delimited (RFC 9112 §6.3).
type framing uint8

const (
	// noBody: no content (a request without Content-Length or
	// Transfer-Encoding, HEAD, 1xx, 204, 304).
	noBody framing = iota
	// lengthBody: Content-Length bytes.
	lengthBody
	// chunkedBody: Transfer-Encoding: chunked.
	chunkedBody
	// closeBody: a response read until the upstream closes.
	closeBody
)

// framingFields reads Content-Length and Transfer-Encoding from h and
// marks them hop, as the fast path frames what it forwards itself. It
// returns status 0 when the framing is clear, else the status to refuse
// the message with: 400 for ambiguity (both fields, several
// Content-Length fields even when equal, a bad value, chunked not the
// only coding) and 501 for a coding the fast path does not implement.
func framingFields(h *header) (f framing, length int64, status int) {
	var clSeen, teSeen int
	var te []byte
	for i := range h.fields {
		fl := &h.fields[i]
		switch {
		case equalFold(fl.name, "Content-Length"):
			clSeen++
			fl.hop = true
			n, ok := parseContentLength(fl.value)
			if !ok {
				return 0, 0, 400
			}
			length = n
		case equalFold(fl.name, "Transfer-Encoding"):
			teSeen++
			fl.hop = true
			te = fl.value
		}
	}
	switch {
	case clSeen > 1 || teSeen > 1 || (clSeen > 0 && teSeen > 0):
		return 0, 0, 400
	case teSeen == 1:
		if equalFold(te, "chunked") {
			return chunkedBody, -1, 0
		}
		h.dropTrailer()
		// The last coding must be chunked for the length to be known
		// (RFC 9112 §6.3); a chain that ends in chunked is still one the
		// fast path does not decode.
		last := te
		if i := bytes.LastIndexByte(te, ','); i >= 0 {
			last = trimOWS(te[i+1:])
		}
		if !equalFold(last, "chunked") {
			return 0, 0, 400
		}
		return 0, 0, 501
	}
	h.dropTrailer()
	if clSeen == 1 && length > 0 {
		return lengthBody, length, 0
	}
	return noBody, 0, 0
}

// dropTrailer marks the Trailer field hop: only a chunked body has
// trailers to announce.
func (h *header) dropTrailer() {
	for i := range h.fields {
		if equalFold(h.fields[i].name, "Trailer") {
			h.fields[i].hop = true
		}
	}
}

// connectionFields marks hop every field RFC 9110 §7.6.1 lists and every
// field a Connection option names, and reports whether the sender asked
// to close and whether it asked for an upgrade.
func connectionFields(h *header) (closeAfter, upgrade bool) {
	for i := range h.fields {
		fl := &h.fields[i]
		if isHopByHop(fl.name) {
			fl.hop = true
		}
		if equalFold(fl.name, "Upgrade") {
			upgrade = true
		}
		if !equalFold(fl.name, "Connection") {
			continue
		}
		tokens(fl.value, func(tok []byte) {
			switch {
			case equalFold(tok, "close"):
				closeAfter = true
			case equalFold(tok, "upgrade"):
				upgrade = true
			}
		})
	}
	// Options may name fields before or after the Connection field.
	for i := range h.fields {
		if equalFold(h.fields[i].name, "Connection") {
			tokens(h.fields[i].value, func(tok []byte) { h.markHop(tok) })
		}
	}
	return closeAfter, upgrade
}

// hasToken reports whether any list element of a field called name is tok.
func (h *header) hasToken(name, tok string) bool {
	found := false
	h.Values(name, func(v []byte) {
		tokens(v, func(t []byte) {
			// A TE element may carry parameters (trailers;q=1 is not
			// allowed, but gzip;q=0.5 is): compare the coding only.
			if i := bytes.IndexByte(t, ';'); i >= 0 {
				t = trimOWS(t[:i])
			}
			if equalFold(t, tok) {
				found = true
			}
		})
	})
	return found
}
