// Command server is the process node's test workload: an HTTP server on
// $PORT whose health the test can change from outside, to exercise
// readiness and liveness probes, which reports its environment and dials
// addresses from inside its pod on request; it also reports files,
// directories and its process as the pod sees them, and calls the API
// server as an in-cluster client would (/kube). Run as "server exit <code>"
// it prints a line and exits, as an init container or exec probe.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
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
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		if err := os.WriteFile(r.URL.Query().Get("path"), []byte("written\n"), 0o644); err != nil {
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "written")
	})
	mux.HandleFunc("/stat", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(stat(r.URL.Query().Get("path")))
	})
	mux.HandleFunc("/ls", func(w http.ResponseWriter, r *http.Request) {
		entries, err := os.ReadDir(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		_ = json.NewEncoder(w).Encode(names)
	})
	mux.HandleFunc("/process", func(w http.ResponseWriter, _ *http.Request) {
		hostname, _ := os.Hostname()
		n, err := os.Stdin.Read(make([]byte, 1))
		stdin := fmt.Sprintf("%d %v", n, err)
		_ = json.NewEncoder(w).Encode(map[string]any{"hostname": hostname, "stdin": stdin, "args": os.Args})
	})
	mux.HandleFunc("/kube", kube)
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

// fileInfo is what /stat reports of a path.
type fileInfo struct {
	Exists bool   `json:"exists"`
	Mode   string `json:"mode"`
	Link   string `json:"link,omitempty"`
}

func stat(path string) fileInfo {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileInfo{}
	}
	link, _ := os.Readlink(path)
	return fileInfo{Exists: true, Mode: fi.Mode().String(), Link: link}
}

// serviceAccountDir is where an in-cluster client finds its credentials.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// kube GETs the API path in the query from the API server the way an
// in-cluster client does: KUBERNETES_SERVICE_HOST/PORT, the mounted token
// and CA. serverName overrides the name the certificate is checked for.
func kube(w http.ResponseWriter, r *http.Request) {
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: r.URL.Query().Get("serverName")},
	}}
	host := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "https://"+host+r.URL.Query().Get("path"), nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
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
