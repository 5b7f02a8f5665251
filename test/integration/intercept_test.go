//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/intercept"
	"flywheel.dev/pkg/queue/sidecar"
)

// TestTransparentMode checks transparent mode end to end with the real
// kernel: a network namespace stands for the pod, intercept.Install puts
// the iptables rules in it, an app listens on its own port and a
// sidecar-like server (intercept.Listener, forwarding to the app on
// loopback) runs in a process of its own as queue.SidecarUID. Requests for
// the app's port must go through the sidecar, which sees where they were
// going; the sidecar's own connections must not.
func TestTransparentMode(t *testing.T) {
	requireRootAndIPTables(t)
	pod := newPodNetns(t, interceptNetns)
	helper := helperBinary(t)
	appDst := netip.AddrPortFrom(pod.ip, interceptAppPort)
	pod.serveApp(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(appPeerHeader, r.RemoteAddr)
		_, _ = io.WriteString(w, appBody)
	})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	opts := pod.installRules(t)
	installed := pod.natRules(t)
	if err := intercept.Install(ctx, opts, pod.iptables); err != nil {
		t.Fatalf("installing the rules a second time: %v", err)
	}
	if diff := cmp.Diff(installed, pod.natRules(t)); diff != "" {
		t.Errorf("nat table after a second Install (-once, +twice):\n%s", diff)
	}

	pod.startSidecar(t, helper)
	host := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	sidecarState := func(t *testing.T) helperState {
		t.Helper()
		var s helperState
		resp, err := host.Get(fmt.Sprintf("http://%s/", netip.AddrPortFrom(pod.ip, queue.AdminPort)))
		if err != nil {
			t.Fatalf("asking the sidecar for its state: %v", err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatalf("decoding the sidecar's state: %v", err)
		}
		return s
	}
	waitUntil(t, 10*time.Second, "the sidecar to serve", func(context.Context) (bool, error) {
		resp, err := host.Get(fmt.Sprintf("http://%s/", netip.AddrPortFrom(pod.ip, queue.AdminPort)))
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if s := sidecarState(t); s.UID != queue.SidecarUID {
		t.Fatalf("the sidecar runs as uid %d, want %d", s.UID, queue.SidecarUID)
	}

	appURL := "http://" + appDst.String() + "/"
	throughSidecar := func(t *testing.T, got helperResponse) {
		t.Helper()
		if got.Body != appBody {
			t.Errorf("body %q, want the app's %q", got.Body, appBody)
		}
		if dst := got.Header.Get(sidecarDstHeader); dst != appDst.String() {
			t.Errorf("the sidecar saw original destination %q, want %q (empty: the request did not go through the sidecar)", dst, appDst)
		}
		if peer := got.Header.Get(appPeerHeader); !strings.HasPrefix(peer, "127.0.0.1:") {
			t.Errorf("the app was called from %q, want the sidecar on 127.0.0.1", peer)
		}
	}
	straightToApp := func(t *testing.T, got helperResponse) {
		t.Helper()
		if got.Body != appBody {
			t.Errorf("body %q, want the app's %q", got.Body, appBody)
		}
		if dst := got.Header.Get(sidecarDstHeader); dst != "" {
			t.Errorf("the request went through the sidecar (original destination %q), want it to reach the app directly", dst)
		}
	}

	t.Run("a client outside the pod goes through the sidecar", func(t *testing.T) {
		throughSidecar(t, fetch(t, host, appURL))
	})
	t.Run("a client in the pod using the pod's IP goes through the sidecar", func(t *testing.T) {
		throughSidecar(t, fetch(t, pod.client(), appURL))
	})
	t.Run("a client in the pod using loopback reaches the app directly", func(t *testing.T) {
		straightToApp(t, fetch(t, pod.client(), fmt.Sprintf("http://127.0.0.1:%d/", interceptAppPort)))
	})
	t.Run("the sidecar's uid reaches the app directly, even on the pod's IP", func(t *testing.T) {
		straightToApp(t, pod.getAsSidecar(t, helper, appURL))
	})
	t.Run("a connection to the intercept port itself is refused", func(t *testing.T) {
		before := sidecarState(t).Refused
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(pod.ip, queue.InterceptPort).String(), 5*time.Second)
		if err != nil {
			t.Fatalf("dialling the intercept port: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: loop\r\n\r\n")
		n, err := c.Read(make([]byte, 512))
		if n > 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read %d bytes, error %v; want the connection closed without an answer", n, err)
		}
		after := sidecarState(t).Refused
		if diff := cmp.Diff(intercept.Refusals{SelfLoop: before.SelfLoop + 1, NoOriginalDst: before.NoOriginalDst}, after); diff != "" {
			t.Errorf("the sidecar's refusals (-want, +got):\n%s", diff)
		}
	})

	if err := intercept.Remove(ctx, pod.iptables); err != nil {
		t.Fatalf("removing the rules: %v", err)
	}
	if rules := pod.natRules(t); strings.Contains(rules, "FLYWHEEL") {
		t.Errorf("rules left after Remove:\n%s", rules)
	}
	t.Run("after Remove a client outside the pod reaches the app directly", func(t *testing.T) {
		straightToApp(t, fetch(t, host, appURL))
	})
}

const (
	interceptAppPort = 8080
	appBody          = "hello from the app\n"
	// appPeerHeader is where the app tells who called it.
	appPeerHeader = "X-Test-App-Peer"
	// sidecarDstHeader is where the sidecar tells the original
	// destination it read; its presence shows the request went through it.
	sidecarDstHeader = "X-Test-Original-Dst"
)

// The test runs parts of itself as other processes, inside the pod's
// network namespace and as queue.SidecarUID: the sidecar, and a client
// with the sidecar's uid. helperModeEnv selects the part; init runs it
// before TestMain would start a control plane.
const (
	helperModeEnv = "FLYWHEEL_TEST_INTERCEPT_HELPER"
	helperURLEnv  = "FLYWHEEL_TEST_INTERCEPT_URL"
)

func init() {
	switch mode := os.Getenv(helperModeEnv); mode {
	case "":
	case "sidecar":
		os.Exit(sidecarHelper())
	case "get":
		os.Exit(getHelper())
	case "queue":
		// The real queue-proxy, configured by its environment.
		os.Exit(sidecar.Main(nil, os.Getenv, os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want sidecar, get or queue\n", helperModeEnv, mode)
		os.Exit(2)
	}
}

// helperState is what the sidecar helper serves on the admin port.
type helperState struct {
	UID     int                `json:"uid"`
	Refused intercept.Refusals `json:"refused"`
}

// sidecarHelper serves the intercept port as the queue-proxy does: an
// intercept.Listener, the original destination in each request's context,
// a proxy to the app on loopback. It marks each response with the original
// destination, and serves its uid and refusals on the admin port.
func sidecarHelper() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(queue.InterceptPort))
	if err != nil {
		log.Error("listening on the intercept port", "error", err)
		return 1
	}
	il := intercept.NewListener(ln, intercept.ListenerOptions{Logger: log})
	adminLn, err := net.Listen("tcp", ":"+strconv.Itoa(queue.AdminPort))
	if err != nil {
		log.Error("listening on the admin port", "error", err)
		return 1
	}

	app := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(interceptAppPort))}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(app) }}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dst, ok := intercept.FromContext(r.Context())
			if !ok {
				http.Error(w, "no original destination", http.StatusInternalServerError)
				return
			}
			w.Header().Set(sidecarDstHeader, dst.String())
			proxy.ServeHTTP(w, r)
		}),
		ConnContext:       intercept.ConnContext,
		ReadHeaderTimeout: 5 * time.Second,
	}
	admin := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(helperState{UID: os.Getuid(), Refused: il.Refused()})
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = admin.Serve(adminLn) }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = admin.Close()
	}()
	if err := srv.Serve(il); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serving the intercept port", "error", err)
		return 1
	}
	return 0
}

// helperResponse is what the get helper prints: enough of an HTTP
// response to compare.
type helperResponse struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// getHelper fetches the URL in helperURLEnv and prints the response as
// JSON.
func getHelper() int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(os.Getenv(helperURLEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(helperResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fetch GETs url with client and expects 200.
func fetch(t *testing.T, client *http.Client, url string) helperResponse {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return helperResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// helperBinary copies the test binary where queue.SidecarUID can run it:
// the go command builds it in a directory only root may enter.
func helperBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fw-intercept-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "helper")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		t.Fatalf("copying the test binary: %v", err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// client returns an HTTP client whose connections start inside the pod.
func (p *podNetns) client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := p.do(func() error {
				var err error
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}

// iptables is an intercept.Runner for the namespace.
func (p *podNetns) iptables(ctx context.Context, args ...string) error {
	return p.do(func() error { return intercept.IPTables(ctx, args...) })
}

// natRules lists the namespace's nat table, as iptables -S prints it.
func (p *podNetns) natRules(t *testing.T) string {
	t.Helper()
	var out []byte
	err := p.do(func() error {
		var err error
		out, err = exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
		return err
	})
	if err != nil {
		t.Fatalf("listing the pod's nat table: %v", err)
	}
	return string(out)
}

// requireRootAndIPTables fails the test, naming what is missing, unless
// it can create network namespaces and run iptables: CI has both, so a
// test that needs them must not silently skip.
func requireRootAndIPTables(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("%s needs root: it creates a network namespace and installs iptables rules in it", t.Name())
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatalf("%s needs the iptables binary (hack/ensure-host.sh installs it): %v", t.Name(), err)
	}
}

// serveApp serves handler on the app's port in the pod until the test
// ends.
func (p *podNetns) serveApp(t *testing.T, handler http.HandlerFunc) {
	t.Helper()
	ln, err := p.listen(":" + strconv.Itoa(interceptAppPort))
	if err != nil {
		t.Fatalf("listening for the app in the pod: %v", err)
	}
	app := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = app.Serve(ln) }()
	t.Cleanup(func() { _ = app.Close() })
}

// installRules installs the transparent mode's rules for the app's port
// in the pod, as the init container does, and removes them when the test
// ends.
func (p *podNetns) installRules(t *testing.T) intercept.Options {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	opts := intercept.Options{AppPort: interceptAppPort, InterceptPort: queue.InterceptPort, ExcludeUID: queue.SidecarUID}
	if err := intercept.Install(ctx, opts, p.iptables); err != nil {
		t.Fatalf("installing the rules: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := intercept.Remove(ctx, p.iptables); err != nil {
			t.Errorf("removing the rules: %v", err)
		}
	})
	return opts
}

// asSidecar makes cmd run as the sidecar's uid and die with this process.
func asSidecar(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: queue.SidecarUID, Gid: queue.SidecarUID, NoSetGroups: true},
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
	}
}

// startSidecar runs the sidecar helper in the namespace and stops it (by
// its pid) when the test ends.
func (p *podNetns) startSidecar(t *testing.T, helper string) {
	t.Helper()
	p.startHelper(t, helper, "sidecar", nil)
}

// startHelper runs the helper binary in mode, with env added, in the
// namespace as the sidecar's uid, and stops it (by its pid) when the test
// ends.
func (p *podNetns) startHelper(t *testing.T, helper, mode string, env []string) {
	t.Helper()
	cmd := exec.Command(helper)
	cmd.Env = append([]string{helperModeEnv + "=" + mode}, env...)
	cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.output}
	cmd.Stderr = cmd.Stdout
	asSidecar(cmd)
	if err := p.do(cmd.Start); err != nil {
		t.Fatalf("starting the sidecar as uid %d: %v", queue.SidecarUID, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("sidecar output:\n%s", p.output.String())
			p.mu.Unlock()
		}
	})
}

// getAsSidecar fetches url from inside the namespace as the sidecar's
// uid.
func (p *podNetns) getAsSidecar(t *testing.T, helper, url string) helperResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper)
	cmd.Env = []string{helperModeEnv + "=get", helperURLEnv + "=" + url}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	asSidecar(cmd)
	if err := p.do(cmd.Start); err != nil {
		t.Fatalf("starting a client as uid %d: %v", queue.SidecarUID, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("GET %s as uid %d: %v: %s", url, queue.SidecarUID, err, stderr.String())
	}
	var r helperResponse
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("decoding %q: %v", stdout.String(), err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s as uid %d: status %d: %s", url, queue.SidecarUID, r.Status, r.Body)
	}
	return r
}

// lockedWriter lets a process's output be read while it is written.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}
