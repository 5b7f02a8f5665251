package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// The apps the benchmark serves. Both answer the same short body; they
// differ in how long they take.
const (
	// AppHello answers at once: the proxy's own cost dominates.
	AppHello = "hello"
	// AppSleep answers after a fixed delay (50 ms by default): the
	// latency a proxy adds is read against it.
	AppSleep = "sleep"
)

// HealthPath answers at once in every app mode, for readiness probes: a
// probe of the sleep app must not take its 50 ms.
const HealthPath = "/healthz"

// AnnouncePrefix starts the line an app prints on stdout when asked to
// announce: the wall-clock time, in Unix nanoseconds, at which its
// listening socket was open.
const AnnouncePrefix = "listening "

// HelloBody is every app's answer.
var HelloBody = []byte("hello\n")

// AppMain serves a test app as its flags say.
func AppMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	mode := fs.String("mode", AppHello, "hello or sleep")
	delay := fs.Duration("delay", 50*time.Millisecond, "how long the sleep app takes per request")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	startDelay := fs.Duration("start-delay", 0, "wait this long before listening, as an app's start-up work would")
	announce := fs.Bool("announce", false, "print \""+AnnouncePrefix+"<unix ns>\" on stdout once listening")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var handler http.HandlerFunc
	switch *mode {
	case AppHello:
		handler = func(w http.ResponseWriter, _ *http.Request) { writeHello(w) }
	case AppSleep:
		handler = func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(*delay)
			defer t.Stop()
			select {
			case <-t.C:
				writeHello(w)
			case <-r.Context().Done():
			}
		}
	default:
		return fmt.Errorf("unknown app mode %q: want %s or %s", *mode, AppHello, AppSleep)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, _ *http.Request) { writeHello(w) })
	mux.Handle("/", handler)

	if *startDelay > 0 {
		time.Sleep(*startDelay)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *announce {
		fmt.Fprintf(os.Stdout, "%s%d\n", AnnouncePrefix, time.Now().UnixNano())
	}
	return ServeUntilDone(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, l)
}

func writeHello(w http.ResponseWriter) {
	// A set Content-Type spares net/http sniffing the body.
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(HelloBody)
}

// ServeUntilDone serves srv on l until ctx ends, then closes it.
func ServeUntilDone(ctx context.Context, srv *http.Server, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err := srv.Close()
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
