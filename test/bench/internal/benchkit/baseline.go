package benchkit

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BaselineMain serves the baseline the proxies are measured against: what
// a competent engineer would write in an afternoon with the standard
// library. It is a plain httputil.ReverseProxy that counts requests in
// flight (the least a sidecar that reports concurrency must do), with the
// tuning anyone would give it: idle connections to the app sized to the
// concurrency so none is closed and redialled, no compression, and pooled
// copy buffers like the sidecar's and the gateway's.
func BaselineMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8012", "address to serve proxied requests on")
	target := fs.String("target", "127.0.0.1:8080", "the app's host:port")
	admin := fs.String("admin", "127.0.0.1:8022", "address that serves the in-flight count")
	maxIdle := fs.Int("max-idle", 100, "idle connections kept to the app; size it to the concurrency")
	pprofAddr := fs.String("pprof", "", "serve Go's pprof on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	appURL := &url.URL{Scheme: "http", Host: *target}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        *maxIdle,
		MaxIdleConnsPerHost: *maxIdle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(appURL)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  transport,
		BufferPool: &bufferPool{},
	}
	var inFlight atomic.Int64
	proxied := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		rp.ServeHTTP(w, r)
	})
	adminMux := http.NewServeMux()
	adminMux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strconv.FormatInt(inFlight.Load(), 10) + "\n"))
	})

	servers := []struct {
		addr string
		h    http.Handler
	}{{*listen, proxied}, {*admin, adminMux}}
	if *pprofAddr != "" {
		servers = append(servers, struct {
			addr string
			h    http.Handler
		}{*pprofAddr, PprofHandler()})
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return err
		}
		go func() {
			errc <- ServeUntilDone(ctx, &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}, l)
		}()
	}
	var err error
	for range servers {
		err = errors.Join(err, <-errc)
	}
	return err
}

// PprofHandler serves Go's pprof index, CPU profiles and execution traces, for a proxy's
// --pprof address.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
