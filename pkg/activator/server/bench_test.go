package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/network/forward/forwardtest"
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
	for name, path := range map[string]servePath{"activator": netHTTPPath, "activator-fast": fastPath} {
		b.Run(name, func(b *testing.B) {
			e := startActivator(b, path, Config{})
			key := e.addRevision("hello-00001", 0, 300)
			e.setPods(key, strings.TrimPrefix(pod.URL, "http://"))
			header := http.Header{serving.RevisionHeader: {key.Name}, serving.NamespaceHeader: {key.Namespace}}
			forwardtest.SendAll(b, e.url, "hello.example.com", header)
		})
	}
	b.Run("reverseproxy", func(b *testing.B) {
		target, err := url.Parse(pod.URL)
		if err != nil {
			b.Fatal(err)
		}
		s := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
		b.Cleanup(s.Close)
		forwardtest.SendAll(b, s.URL, "hello.example.com", nil)
	})
}
