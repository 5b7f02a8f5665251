// Command server is the process node's test workload: an HTTP server on
// $PORT whose health the test can change from outside, to exercise
// readiness and liveness probes, which reports its environment and dials
// addresses from inside its pod on request. Run as "server exit <code>"
// it prints a line and exits, as an init container or exec probe.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "exit" {
		code, _ := strconv.Atoi(os.Args[2])
		fmt.Printf("exiting with %d\n", code)
		os.Exit(code)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	var live, ready atomic.Bool
	live.Store(true)
	ready.Store(true)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", status(&live))
	mux.HandleFunc("/ready", status(&ready))
	mux.HandleFunc("/fail/liveness", func(http.ResponseWriter, *http.Request) { live.Store(false) })
	mux.HandleFunc("/fail/readiness", func(http.ResponseWriter, *http.Request) { ready.Store(false) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		wd, _ := os.Getwd()
		_ = json.NewEncoder(w).Encode(map[string]any{"env": env, "uid": os.Getuid(), "gid": os.Getgid(), "wd": wd, "args": os.Args[1:], "pid": os.Getpid()})
	})
	mux.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
		c, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), 2*time.Second)
		if err != nil {
			fmt.Fprintln(w, err)
			return
		}
		_ = c.Close()
		fmt.Fprintln(w, "connected")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", os.Getenv("POD_NAME"))
	})

	fmt.Printf("serving on :%s\n", port)
	fmt.Fprintln(os.Stderr, "stderr goes to the log too")
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func status(ok *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if !ok.Load() {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}
