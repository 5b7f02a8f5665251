// Package listentest helps tests of servers that must not serve before
// their tables are loaded (the gateway, the activator): a fake API server
// slow to list, requests sent at once on connections of their own, and
// how many connections wait unaccepted in a listener's backlog.
package listentest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
)

// HeldList is a fake client's first list of a resource, made to wait
// until Release is called: an API server slow to answer a starting process. listing is
// closed once the list has begun.
type HeldList struct {
	listing, released chan struct{}
	begin, release    sync.Once
}

// HoldList holds the first list of resource by fake, and every later one,
// until Release (or the test's end).
func HoldList(t *testing.T, fake *clientgotesting.Fake, resource string) *HeldList {
	t.Helper()
	h := &HeldList{listing: make(chan struct{}), released: make(chan struct{})}
	fake.PrependReactor("list", resource, func(clientgotesting.Action) (bool, runtime.Object, error) {
		h.begin.Do(func() { close(h.listing) })
		<-h.released
		return false, nil, nil
	})
	t.Cleanup(h.Release)
	return h
}

// Listing is closed once the held list has begun.
func (h *HeldList) Listing() <-chan struct{} { return h.listing }

// Release lets the held list, and every later one, through.
func (h *HeldList) Release() { h.release.Do(func() { close(h.released) }) }

// HeldConnections returns how many connections to addr, an IPv4 listener,
// the kernel has completed and the process not accepted: the rx_queue of
// its listening socket in /proc/net/tcp. It skips the test where there
// is none.
func HeldConnections(t *testing.T, addr string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("cannot see the listen backlog without /proc/net/tcp: %v", err)
	}
	ap := netip.MustParseAddrPort(addr)
	ip := ap.Addr().As4()
	local := fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ip[:]), ap.Port())
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue ...
		f := strings.Fields(line)
		if len(f) < 5 || f[1] != local || f[3] != "0A" { // 0A: LISTEN
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		n, err := strconv.ParseUint(rx, 16, 32)
		if err != nil {
			t.Fatalf("/proc/net/tcp: %q: %v", line, err)
		}
		return int(n)
	}
	t.Fatalf("no socket listens on %s in /proc/net/tcp", addr)
	return 0
}

// SendAll sends n GETs to url for host, with header, at once, each on a
// connection of its own as clients coming back to a restarted server do.
// It returns once every request is written (to the kernel, whether or not
// the server has accepted its connection), and the channel that gets each
// answer as "code body", or the error.
func SendAll(url, host string, header http.Header, n int) <-chan string {
	answers := make(chan string, n)
	var written sync.WaitGroup
	written.Add(n)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	for range n {
		go func() {
			var once sync.Once
			wrote := func() { once.Do(written.Done) }
			defer wrote() // a request that failed before it was written
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { wrote() },
			})
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				answers <- err.Error()
				return
			}
			req.Host = host
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			if err != nil {
				answers <- err.Error()
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			answers <- fmt.Sprintf("%d %s", resp.StatusCode, body)
		}()
	}
	written.Wait()
	return answers
}
