package activator

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"flywheel.dev/pkg/apis/serving"
)

// BenchmarkForwarding sends requests one after another through the
// activator to a Revision with a ready pod and, for comparison, through a
// bare httputil.ReverseProxy to the same loopback pod. Client, proxies and
// pod share the process, so only the difference means something: what
// the activator's accounting, throttling and transport cost per request,
// in time and allocations.
func BenchmarkForwarding(b *testing.B) {
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	b.Cleanup(pod.Close)
	b.Run("activator", func(b *testing.B) {
		e := startActivator(b, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		e.setPods(key, strings.TrimPrefix(pod.URL, "http://"))
		header := http.Header{serving.RevisionHeader: {key.Name}, serving.NamespaceHeader: {key.Namespace}}
		sendAll(b, e.url, header)
	})
	b.Run("reverseproxy", func(b *testing.B) {
		target, err := url.Parse(pod.URL)
		if err != nil {
			b.Fatal(err)
		}
		s := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
		b.Cleanup(s.Close)
		sendAll(b, s.URL, nil)
	})
}

func sendAll(b *testing.B, target string, header http.Header) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, target+"/", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Host = "hello.example.com"
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
