package intercept

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Clients of these tests pick their source address on loopback to tell the
// fake SO_ORIGINAL_DST what the kernel would have answered.
var (
	redirectedClient = netip.MustParseAddr("127.0.0.1")
	selfLoopClient   = netip.MustParseAddr("127.0.0.2")
	untrackedClient  = netip.MustParseAddr("127.0.0.3")
)

var appDst = netip.MustParseAddrPort("10.1.2.3:8080")

// newTestListener listens on loopback with a fake original destination:
// the app's address for redirectedClient, the listener itself for
// selfLoopClient, none for untrackedClient.
func newTestListener(t *testing.T) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := netip.MustParseAddrPort(inner.Addr().String())
	l := NewListener(inner, ListenerOptions{OriginalDst: func(c net.Conn) (netip.AddrPort, error) {
		switch netip.MustParseAddrPort(c.RemoteAddr().String()).Addr() {
		case redirectedClient:
			return appDst, nil
		case selfLoopClient:
			return netip.AddrPortFrom(netip.MustParseAddr("10.1.2.3"), self.Port()), nil
		default:
			return netip.AddrPort{}, errors.New("no such connection tracked")
		}
	}})
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func dialFrom(t *testing.T, from netip.Addr, to net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		t.Fatalf("dialling %s from %s: %v", to, from, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByPeer reports whether the server closed c without sending
// anything.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	return n == 0 && err != nil && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection reset"))
}

func TestListenerRefusesWhatWasNotRedirected(t *testing.T) {
	l := newTestListener(t)
	// Dialled before the redirected one: Accept must skip them, not
	// return them nor fail.
	loop := dialFrom(t, selfLoopClient, l.Addr())
	untracked := dialFrom(t, untrackedClient, l.Addr())
	dialFrom(t, redirectedClient, l.Addr())

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			close(accepted)
			return
		}
		accepted <- c
	}()
	var c net.Conn
	select {
	case c = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return the redirected connection")
	}
	if c == nil {
		return
	}
	defer c.Close()

	if got := netip.MustParseAddrPort(c.RemoteAddr().String()).Addr(); got != redirectedClient {
		t.Errorf("accepted a connection from %s, want the redirected one from %s", got, redirectedClient)
	}
	if got, err := OriginalDst(c); err != nil || got != appDst {
		t.Errorf("OriginalDst(accepted) = %v, %v; want %v", got, err, appDst)
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Errorf("accepted connection %T lost the TCP connection's CloseWrite", c)
	}
	for name, refused := range map[string]net.Conn{"self-loop": loop, "untracked": untracked} {
		if !closedByPeer(t, refused) {
			t.Errorf("the %s connection was not closed", name)
		}
	}
	if diff := cmp.Diff(Refusals{SelfLoop: 1, NoOriginalDst: 1}, l.Refused()); diff != "" {
		t.Errorf("Refused() (-want, +got):\n%s", diff)
	}
}

func TestListenerReturnsTheListenersError(t *testing.T) {
	l := newTestListener(t)
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a closed listener = %v, want net.ErrClosed", err)
	}
}

func TestServeWithOriginalDstInContext(t *testing.T) {
	l := newTestListener(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dst, ok := FromContext(r.Context())
			if !ok {
				http.Error(w, "no original destination", http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, dst.String())
		}),
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 5 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	})

	get := func(from netip.Addr) (string, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
		defer client.CloseIdleConnections()
		resp, err := client.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if _, err := get(selfLoopClient); err == nil {
		t.Error("a request made to the intercept port itself was served")
	}
	// The refusal above did not stop the server.
	body, err := get(redirectedClient)
	if err != nil {
		t.Fatalf("redirected request: %v", err)
	}
	if body != appDst.String() {
		t.Errorf("the handler saw original destination %q, want %q", body, appDst)
	}
}

func TestFromContextWithoutConnContext(t *testing.T) {
	if dst, ok := FromContext(context.Background()); ok {
		t.Errorf("FromContext(background) = %v, true; want false", dst)
	}
	// A connection that did not come from a Listener adds nothing.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if dst, ok := FromContext(ConnContext(context.Background(), a)); ok {
		t.Errorf("FromContext after ConnContext(pipe) = %v, true; want false", dst)
	}
}

func TestOriginalDstOfAnUntrackedConnection(t *testing.T) {
	// Not a socket: nothing to ask the kernel.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := OriginalDst(a); err == nil {
		t.Error("OriginalDst(pipe) succeeded")
	}
}
