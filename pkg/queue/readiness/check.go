package readiness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"flywheel.dev/pkg/queue"
)

// Check runs one probe of the app and returns nil when it passed.
type Check func(ctx context.Context) error

// NewCheck returns the Check of spec against an app on 127.0.0.1, whose
// port is userPort unless the probe names another.
func NewCheck(spec queue.ProbeSpec, userPort int) Check {
	switch {
	case spec.HTTPGet != nil:
		return httpCheck(spec.HTTPGet, userPort)
	default:
		port := userPort
		if spec.TCPSocket != nil && spec.TCPSocket.Port != 0 {
			port = int(spec.TCPSocket.Port)
		}
		return tcpCheck(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
}

func tcpCheck(addr string) Check {
	var d net.Dialer
	return func(ctx context.Context) error {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// httpCheck passes on a 2xx or 3xx answer, as the kubelet's does. It
// sends the kubelet's User-Agent so an app that treats probes specially
// sees what it would on any Kubernetes node.
func httpCheck(h *queue.HTTPGetProbe, userPort int) Check {
	port := userPort
	if h.Port != 0 {
		port = int(h.Port)
	}
	scheme := "http"
	if h.Scheme == "HTTPS" {
		scheme = "https"
	}
	path := h.Path
	if path == "" {
		path = "/"
	}
	url := scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + path
	client := &http.Client{
		Transport: &http.Transport{
			// Probes of a local app: certificates are not checked, as the
			// kubelet does not check them; one idle connection is kept so
			// the steady-state probe costs no handshake.
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		},
		// A redirect is a pass; following it could leave the pod.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for _, hdr := range h.HTTPHeaders {
			req.Header.Add(hdr.Name, hdr.Value)
		}
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", queue.KubeletProbeUserAgentPrefix+"flywheel-queue")
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	}
}
