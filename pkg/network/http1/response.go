package http1

import (
	"bufio"
	"bytes"
	"errors"
)

// maxResponseHead bounds a response head from upstream (net/http's
// Transport allows 10 MB; a head past 1 MiB is a broken app).
const maxResponseHead = 1 << 20

// response is a response head read from upstream. Its slices point into
// the upstream connection's read buffer (or head, for a large head).
type response struct {
	header
	status     int
	reason     []byte
	http10     bool
	framing    framing
	length     int64
	closeAfter bool
	// bodiless: the status or the request method rule out a body (RFC
	// 9110 §6.4.1), whatever the fields say.
	bodiless bool
	// anyStatus, set before parsing, takes a status past 599 (which a
	// proxy refuses to relay, and a client reports).
	anyStatus bool
}

var errResponseHead = errors.New("http1: malformed response head from upstream")

// readResponseHead reads a response head from br. A head that fits the
// buffer stays in it (valid until br is read again; the caller discards
// it); a larger one is copied out, up to maxResponseHead, and consumed.
func readResponseHead(br *bufio.Reader) (head []byte, consumed bool, err error) {
	scan := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		end, next, err := scanHead(buf, scan)
		if err != nil {
			return nil, false, errResponseHead
		}
		if end > 0 {
			return buf[:end], false, nil
		}
		scan = next
		if len(buf) == br.Size() {
			break
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, false, err
		}
	}
	// A head larger than the buffer: rare, so copied line by line.
	var big []byte
	for {
		line, err := br.ReadSlice('\n')
		big = append(big, line...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, true, err
		}
		if len(big) > maxResponseHead {
			return nil, true, errResponseHead
		}
		if err == nil && (len(big) >= 4 && bytes.HasSuffix(big, []byte("\r\n\r\n"))) {
			if _, _, err := scanHead(big, 0); err != nil {
				return nil, true, errResponseHead
			}
			return big, true, nil
		}
	}
}

// parseResponse parses a response head to a request whose method was HEAD
// when head is true. It reports false for anything it will not forward:
// malformed lines, ambiguous framing (refused, where net/http would guess).
func parseResponse(raw []byte, headRequest bool, resp *response) bool {
	i := bytes.Index(raw, crlf)
	line := raw[:i]
	// HTTP-version SP 3DIGIT SP [reason-phrase]
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return false
	}
	switch string(line[:8]) {
	case "HTTP/1.1":
		resp.http10 = false
	case "HTTP/1.0":
		resp.http10 = true
	default:
		return false
	}
	code := line[9:12]
	maxClass := byte('5')
	if resp.anyStatus {
		maxClass = '9'
	}
	if code[0] < '1' || code[0] > maxClass || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return false
	}
	resp.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	resp.reason = nil
	if len(line) > 13 {
		resp.reason = line[13:]
		if !validFieldValue(resp.reason) {
			return false
		}
	}
	if !parseFields(raw[i+2:], &resp.header) {
		return false
	}
	// An Upgrade offer (426, or 200 with Upgrade: h2c) is hop-by-hop:
	// dropped like any other field. (A 101 is refused by the caller: the
	// fast path never asks for an upgrade.)
	resp.closeAfter, _ = connectionFields(&resp.header)
	if resp.http10 {
		resp.closeAfter = true
	}
	// Transfer-Encoding in an HTTP/1.0 message is faulty framing (RFC
	// 9112 §6.1): net/http ignores it and reads to the close, a chunked
	// reading would end elsewhere. Refused, never relayed either way.
	if resp.http10 && hasField(&resp.header, "Transfer-Encoding") {
		return false
	}
	f, n, bad := framingFields(&resp.header)
	if bad != 0 {
		return false
	}
	switch {
	case resp.status < 200, resp.status == 204, resp.status == 304, headRequest:
		resp.framing, resp.length, resp.bodiless = noBody, 0, true
		if resp.status < 200 || resp.status == 204 {
			// No Content-Length on these (RFC 9110 §8.6); a HEAD or 304
			// answer keeps the one it has, which describes the GET.
			return true
		}
		for k := range resp.fields {
			if equalFold(resp.fields[k].name, "Content-Length") {
				resp.fields[k].hop = false
			}
		}
		return true
	case f == noBody && !hasField(&resp.header, "Content-Length"):
		// Neither Content-Length nor Transfer-Encoding: the body runs to
		// the upstream's close (RFC 9112 §6.3 rule 8).
		resp.framing, resp.length, resp.bodiless = closeBody, -1, false
		resp.closeAfter = true
	default:
		resp.framing, resp.length, resp.bodiless = f, n, false
	}
	return true
}

func hasField(h *header, name string) bool { return h.Has(name) }
