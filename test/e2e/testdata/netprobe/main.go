// Command netprobe is the networking tests' and benchmark's workload: it
// echoes on ECHO_PORT over TCP and UDP, and on $PORT answers HTTP requests
// that make it dial, look up, fetch or load a URL from inside its pod,
// reporting what it got as JSON, so that a test on the host sees the
// cluster's network as a pod does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"flywheel.dev/test/e2e/testdata/netprobe/probe"
)

// The bounds of a repeated probe, so that no request can ask for an
// unbounded load.
const (
	maxRepeats     = 50000
	maxConcurrency = 64
	maxLoadTime    = 60 * time.Second
)

func main() {
	echoPort := envOr("ECHO_PORT", "9000")
	hostname, _ := os.Hostname()
	go serveTCPEcho(":"+echoPort, hostname)
	go serveUDPEcho(":"+echoPort, hostname)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "netprobe %s\n", hostname)
	})
	mux.HandleFunc("/dial", answer(dial))
	mux.HandleFunc("/lookup", answer(lookup))
	mux.HandleFunc("/get", answer(get))
	mux.HandleFunc("/load", repeated(func(ctx context.Context, client *http.Client, q func(string) string) error {
		return getOnce(ctx, client, q("url"))
	}))
	mux.HandleFunc("/lookups", repeated(func(ctx context.Context, _ *http.Client, q func(string) string) error {
		_, err := net.DefaultResolver.LookupHost(ctx, q("name"))
		return err
	}))
	log.Fatal(http.ListenAndServe(":"+envOr("PORT", "8080"), mux))
}

// repeated runs once n times (the query's n) over c workers (its c), for
// at most maxLoadTime, and answers the latencies and the rate. Each
// worker keeps its own connections alive, as a client pool would.
func repeated(once func(ctx context.Context, client *http.Client, q func(string) string) error) http.HandlerFunc {
	return answer(func(ctx context.Context, q func(string) string) probe.Result {
		var n, c int
		if _, err := fmt.Sscan(q("n"), &n); err != nil || n < 1 || n > maxRepeats {
			return probe.Result{Error: fmt.Sprintf("n must be a number from 1 to %d", maxRepeats)}
		}
		if _, err := fmt.Sscan(q("c"), &c); err != nil || c < 1 || c > maxConcurrency {
			return probe.Result{Error: fmt.Sprintf("c must be a number from 1 to %d", maxConcurrency)}
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxLoadTime)
		defer cancel()
		next := make(chan struct{}, n)
		for range n {
			next <- struct{}{}
		}
		close(next)
		type sample struct {
			d   time.Duration
			err error
		}
		samples := make(chan sample, n)
		start := time.Now()
		var wg sync.WaitGroup
		for range c {
			wg.Go(func() {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
				defer client.CloseIdleConnections()
				for range next {
					if ctx.Err() != nil {
						return
					}
					t := time.Now()
					err := once(ctx, client, q)
					samples <- sample{time.Since(t), err}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		close(samples)
		load := &probe.Load{}
		var ds []time.Duration
		for s := range samples {
			load.Count++
			if s.err != nil {
				load.Errors++
				if load.FirstError == "" {
					load.FirstError = s.err.Error()
				}
				continue
			}
			ds = append(ds, s.d)
		}
		slices.Sort(ds)
		if len(ds) > 0 {
			load.P50, load.P99 = millis(ds[len(ds)*50/100]), millis(ds[min(len(ds)-1, len(ds)*99/100)])
		}
		load.PerSecond = float64(load.Count-load.Errors) / elapsed.Seconds()
		return probe.Result{OK: load.Errors == 0 && load.Count == n, Load: load}
	})
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// getOnce fetches url and reads its body to the end, which lets the
// connection be used again.
func getOnce(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// answer runs f with the request's query and answers its Result.
func answer(f func(ctx context.Context, q func(string) string) probe.Result) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		res := f(ctx, r.URL.Query().Get)
		res.Millis = millis(time.Since(start))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	}
}

// dial connects to addr over proto (tcp or udp), sends "ping" and reads
// the echo's answer; over tcp with send=no it only connects.
func dial(ctx context.Context, q func(string) string) probe.Result {
	proto, addr := q("proto"), q("addr")
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, proto, addr)
	if err != nil {
		return failure(err)
	}
	defer conn.Close()
	if proto == "tcp" && q("send") == "no" {
		return probe.Result{OK: true}
	}
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, "ping\n"); err != nil {
		return failure(err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		return failure(err)
	}
	return probe.Result{OK: true, Reply: strings.TrimSpace(string(buf[:n]))}
}

// lookup resolves name with the pod's resolv.conf: A records, or SRV
// records of service and proto (type=SRV).
func lookup(ctx context.Context, q func(string) string) probe.Result {
	var r net.Resolver
	name := q("name")
	if q("type") == "SRV" {
		_, srvs, err := r.LookupSRV(ctx, q("service"), q("proto"), name)
		if err != nil {
			return failure(err)
		}
		res := probe.Result{OK: true}
		for _, s := range srvs {
			res.SRV = append(res.SRV, fmt.Sprintf("%s:%d", s.Target, s.Port))
		}
		return res
	}
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		return failure(err)
	}
	return probe.Result{OK: true, Addrs: addrs}
}

// get fetches url and answers its status and body.
func get(ctx context.Context, q func(string) string) probe.Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q("url"), nil)
	if err != nil {
		return failure(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return failure(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return failure(err)
	}
	return probe.Result{OK: true, Status: resp.StatusCode, Reply: string(body)}
}

func failure(err error) probe.Result {
	res := probe.Result{Error: err.Error(), Refused: errors.Is(err, syscall.ECONNREFUSED)}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		res.NotFound = dnsErr.IsNotFound
	}
	return res
}

func serveTCPEcho(addr, hostname string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprintf(c, "tcp %s from %s: %s\n", hostname, c.RemoteAddr(), strings.TrimSpace(line))
		}()
	}
}

func serveUDPEcho(addr, hostname string) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		reply := fmt.Sprintf("udp %s from %s: %s", hostname, from, strings.TrimSpace(string(buf[:n])))
		_, _ = pc.WriteTo([]byte(reply), from)
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
