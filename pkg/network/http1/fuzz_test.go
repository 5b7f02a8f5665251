package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The differential fuzz targets hold the fast path to net/http's reading
// of the same bytes. Whenever the fast path accepts a message (head and
// body), net/http must accept it too, and must read what the fast path
// forwards as the same message: method, target, Host, end-to-end fields
// (as a set), framing, body bytes, trailers, and where the message ends
// in the stream (the smuggling question). The fast path may refuse or
// decline more than net/http does, never less.

// netHTTPRequest is net/http's server's reading of a request: ReadRequest
// plus the checks its conn.readRequest adds (protocol version, Host,
// field names and values), then the body.
type netHTTPRequest struct {
	req     *http.Request
	body    []byte
	trailer http.Header
	// rest is how many bytes of the stream follow the message.
	rest int
}

func readNetHTTPRequest(data []byte) (*netHTTPRequest, bool) {
	br := bufio.NewReader(bytes.NewReader(data))
	req, err := http.ReadRequest(br)
	if err != nil || req.ProtoMajor != 1 {
		return nil, false
	}
	// ReadRequest moves Host out of the header; the server's checks
	// look at the fields as received.
	hosts, ok := rawFields(data)["Host"]
	if req.ProtoAtLeast(1, 1) && (!ok || len(hosts) == 0) {
		return nil, false
	}
	if len(hosts) > 1 || (len(hosts) == 1 && !validHost([]byte(hosts[0]))) {
		return nil, false
	}
	for k, vv := range req.Header {
		if !isToken([]byte(k)) {
			return nil, false
		}
		for _, v := range vv {
			if !validFieldValue([]byte(v)) {
				return nil, false
			}
		}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, false
	}
	return &netHTTPRequest{req: req, body: body, trailer: req.Trailer, rest: br.Buffered()}, true
}

// fastRequest runs the fast path's reading of a request on data and
// returns what it would forward, and how many bytes of the stream follow.
func fastRequest(data []byte) (forwarded []byte, rest int, ok bool) {
	br := bufio.NewReaderSize(bytes.NewReader(data), readBufferSize)
	head, err := readRequestHead(br, func() {})
	if err != nil {
		return nil, 0, false
	}
	x := &Exchange{}
	x.reset()
	if v, _, _ := parseRequest(head, &x.Request); v != forward {
		return nil, 0, false
	}
	out := x.appendRequestHead(make([]byte, 0, writeBufferSize), oneUpstream{&Upstream{}})
	_, _ = br.Discard(x.Request.headLen)
	x.reqBody.reset(br, x.Request.framing, x.Request.contentLength)
	var dst bytes.Buffer
	if _, err := x.reqBody.copyTo(&dst, out, nil); err != nil {
		return nil, 0, false
	}
	return dst.Bytes(), br.Buffered(), true
}

// rawFields reads the fields of the head at the start of data as
// received: net/http's readers take Host and Connection out.
func rawFields(data []byte) textproto.MIMEHeader {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	_, _ = tp.ReadLine()
	fields, _ := tp.ReadMIMEHeader()
	return fields
}

// endToEnd is a header without the fields a proxy drops or re-frames;
// raw is the message, for its Connection field.
func endToEnd(h http.Header, raw []byte) http.Header {
	h = h.Clone()
	for _, v := range rawFields(raw)["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				delete(h, http.CanonicalHeaderKey(tok))
			}
		}
	}
	for _, k := range append(slices.Clone(hopByHop), "Host", "Content-Length", "Trailer", "Date") {
		delete(h, http.CanonicalHeaderKey(k))
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

// trailers is a trailer section as forwarded: announced fields that never
// came are nothing, and the fields a trailer may not carry (framing,
// routing, hop-by-hop: RFC 9110 §6.5.1) are dropped by the fast path.
func trailers(h http.Header) http.Header {
	h = h.Clone()
	for k, v := range h {
		if len(v) == 0 || isHopByHop([]byte(k)) || k == "Content-Length" || k == "Host" {
			delete(h, k)
		}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

func FuzzRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		forwarded, rest, ok := fastRequest(data)
		if !ok {
			return
		}
		in, ok := readNetHTTPRequest(data)
		if !ok {
			t.Fatalf("the fast path accepted a request net/http refuses:\n%q", data)
		}
		out, ok := readNetHTTPRequest(forwarded)
		if !ok {
			t.Fatalf("net/http cannot read what the fast path forwards:\n%q\nforwarded:\n%q", data, forwarded)
		}
		type view struct {
			Method, URI, Host string
			Header, Trailer   http.Header
			Chunked           bool
			Body              string
			Rest              int
		}
		see := func(r *netHTTPRequest, raw []byte, rest int) view {
			return view{
				Method: r.req.Method, URI: r.req.RequestURI, Host: r.req.Host,
				Header: endToEnd(r.req.Header, raw), Trailer: trailers(r.trailer),
				Chunked: slices.Contains(r.req.TransferEncoding, "chunked"),
				Body:    string(r.body), Rest: rest,
			}
		}
		if diff := cmp.Diff(see(in, data, in.rest), see(out, forwarded, rest)); diff != "" {
			t.Fatalf("net/http reads the request and what the fast path forwards differently (-request, +forwarded):\n%s\nrequest:\n%q\nforwarded:\n%q", diff, data, forwarded)
		}
		if out.rest != 0 {
			t.Fatalf("the forwarded bytes hold more than one message:\n%q", forwarded)
		}
	})
}

// fastResponse runs the fast path's reading of a response to a request
// (HEAD when head) and returns what it would relay.
func fastResponse(data []byte, head bool) (relayed []byte, rest int, ok bool) {
	br := bufio.NewReaderSize(bytes.NewReader(data), upstreamReadBuffer)
	raw, consumed, err := readResponseHead(br)
	if err != nil {
		return nil, 0, false
	}
	x := &Exchange{c: &conn{srv: &Server{}}}
	x.reset()
	x.reqBody.done = true
	if !parseResponse(raw, head, &x.resp) || x.resp.status == 101 {
		return nil, 0, false
	}
	out := x.appendResponseHead(make([]byte, 0, writeBufferSize), &x.resp)
	if !consumed {
		_, _ = br.Discard(len(raw))
	}
	x.respBody.reset(br, x.resp.framing, x.resp.length)
	var dst bytes.Buffer
	if _, err := x.respBody.copyTo(&dst, out, nil); err != nil {
		return nil, 0, false
	}
	return dst.Bytes(), br.Buffered(), true
}

func FuzzResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		relayed, rest, ok := fastResponse(data, head)
		if !ok {
			return
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		read := func(b []byte) (view map[string]any, rest int, ok bool) {
			br := bufio.NewReader(bytes.NewReader(b))
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				return nil, 0, false
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return nil, 0, false
			}
			return map[string]any{
				"status": resp.StatusCode, "header": endToEnd(resp.Header, b),
				"trailer": trailers(resp.Trailer), "body": string(body),
			}, br.Buffered(), true
		}
		in, inRest, ok := read(data)
		if !ok {
			t.Fatalf("the fast path accepted a response net/http refuses:\n%q", data)
		}
		out, outRest, ok := read(relayed)
		if !ok {
			t.Fatalf("net/http cannot read what the fast path relays:\n%q\nrelayed:\n%q", data, relayed)
		}
		if diff := cmp.Diff(in, out); diff != "" {
			t.Fatalf("net/http reads the response and what the fast path relays differently (-response, +relayed):\n%s\nresponse:\n%q\nrelayed:\n%q", diff, data, relayed)
		}
		if inRest != rest || outRest != 0 {
			t.Fatalf("the message ends at a different place: net/http leaves %d bytes, the fast path %d (relayed leaves %d):\n%q", inRest, rest, outRest, data)
		}
	})
}
