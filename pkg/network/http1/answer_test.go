package http1

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"testing"
)

// readBodyOf runs the fast path's reading of a request and its body, as
// a handler that answers it itself reads it, within limit.
func readBodyOf(data []byte, limit int64) (body []byte, rest int, ok bool, err error) {
	sc := &scriptedConn{r: bytes.NewReader(data)}
	c := &conn{srv: NewServer(nil, Options{}), nc: sc, br: bufio.NewReaderSize(sc, readBufferSize)}
	head, herr := readRequestHead(c.br, func() {})
	if herr != nil {
		return nil, 0, false, nil
	}
	x := &c.x
	x.c = c
	x.reset()
	if v, _, _ := parseRequest(head, &x.Request); v != forward {
		return nil, 0, false, nil
	}
	body, err = x.ReadBody(limit)
	return body, c.br.Buffered() + sc.r.Len(), true, err
}

// FuzzReadBody holds ReadBody to net/http's server: a body it reads whole
// is the body net/http reads, ending at the same place in the stream; a
// body it refuses as too large is longer than the limit.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET"), int64(8))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\nnext"), int64(3))
	f.Fuzz(func(t *testing.T, data []byte, limit int64) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		body, rest, ok, err := readBodyOf(data, limit)
		if !ok || (err != nil && !errors.Is(err, ErrBodyTooLarge)) {
			return
		}
		req, netOK := readNetHTTPRequest(data)
		if errors.Is(err, ErrBodyTooLarge) {
			// Refused before its end, which the stream may not hold.
			if netOK && int64(len(req.body)) <= limit {
				t.Fatalf("a body of %d bytes refused as past the limit %d:\n%q", len(req.body), limit, data)
			}
			return
		}
		if !netOK {
			t.Fatalf("the fast path read a request net/http refuses:\n%q", data)
		}
		if !bytes.Equal(body, req.body) || rest != req.rest {
			t.Fatalf("read %q leaving %d bytes, net/http %q leaving %d:\n%q", body, rest, req.body, req.rest, data)
		}
	})
}

func TestReadBodyThenRespondKeepsTheConnection(t *testing.T) {
	p := startProxy(t, http.NotFoundHandler(), func(_ *testProxy, x *Exchange) {
		body, err := x.ReadBody(16)
		switch {
		case errors.Is(err, ErrBodyTooLarge):
			x.RespondWith(http.StatusRequestEntityTooLarge, "text/plain", nil, []byte("too large\n"))
		case err != nil:
			x.Respond(http.StatusBadRequest, "text/plain", []byte(err.Error()))
		default:
			x.RespondWith(http.StatusAccepted, "", func(h *HeaderWriter) { h.Add("Got", string(body)) }, nil)
		}
	})
	c := dialRaw(t, p.addr)
	c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
	if a, _ := c.read(http.MethodPost); a.StatusCode != http.StatusAccepted || a.Header.Get("Got") != "hello" || a.Header.Get("Content-Type") != "" {
		t.Errorf("got %d %v, want 202 with Got: hello and no Content-Type", a.StatusCode, a.Header)
	}
	c.send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\n")
	if a, _ := c.read(http.MethodPost); a.StatusCode != http.StatusAccepted || a.Header.Get("Got") != "world" {
		t.Errorf("chunked: got %d %v, want 202 with Got: world", a.StatusCode, a.Header)
	}
	c.send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n")
	if a, _ := c.read(http.MethodPost); a.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("past the limit: got %d, want 413", a.StatusCode)
	}
	if !c.closed() {
		t.Error("the connection stayed open after a body left unread")
	}
}
