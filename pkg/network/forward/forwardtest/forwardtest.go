// Package forwardtest helps the proxies' benchmarks: the gateway's and
// the activator's each set themselves against a bare
// httputil.ReverseProxy with the same loop of requests.
package forwardtest

import (
	"io"
	"net/http"
	"testing"
)

// SendAll sends b.N requests one after another to target (an http://
// URL) for host with header, on one kept-alive connection, reporting
// allocations, and fails on any answer but 200.
func SendAll(b *testing.B, target, host string, header http.Header) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, target+"/", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Host = host
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
