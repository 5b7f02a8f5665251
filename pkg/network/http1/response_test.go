package http1

import "testing"

// TestAnHTTP10ResponseWithTransferEncodingIsRefused: Transfer-Encoding
// in an HTTP/1.0 message is faulty framing (RFC 9112 §6.1). net/http
// ignores it and reads to the close; a chunked reading ends elsewhere.
// The fast path relays neither: it refuses the response (a 502 to the
// client). The fuzzer found the difference (corpus
// http10-transfer-encoding).
func TestAnHTTP10ResponseWithTransferEncodingIsRefused(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	} {
		var resp response
		if parseResponse([]byte(raw), false, &resp) {
			t.Errorf("parseResponse accepted %q", raw)
		}
	}
	var resp response
	if !parseResponse([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), false, &resp) || resp.framing != chunkedBody {
		t.Errorf("an HTTP/1.1 chunked response: accepted %v, framing %v", resp.framing == chunkedBody, resp.framing)
	}
}
