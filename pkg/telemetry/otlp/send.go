package otlp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The OTLP/gRPC methods, by signal.
const (
	TraceExportMethod  = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	MetricExportMethod = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
)

// ParseEndpoint reads an OTLP receiver's URL, http:// or https://, as
// config-observability's tracing-endpoint and metrics-endpoint give it;
// its error says what is wanted, with an example for signal (traces,
// metrics).
func ParseEndpoint(endpoint, signal string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("want an http:// or https:// URL, such as http://collector:4318/v1/%s for http/protobuf or http://collector:4317 for grpc", signal)
	}
	return u, nil
}

// Sender sends encoded export requests of one signal to one receiver.
type Sender interface {
	// Send sends one request's bytes. An error that wraps RetryLater
	// is one the receiver may not repeat.
	Send(ctx context.Context, body []byte) error
	// Close lets go of the connections.
	Close()
}

// NewHTTPSender sends to an OTLP/HTTP receiver at u, the whole URL
// (path included, as the SDK's exporters take WithEndpointURL).
func NewHTTPSender(u *url.URL) Sender {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 2
	return &httpSender{client: &http.Client{Transport: transport}, url: u.String()}
}

// NewGRPCSender calls method on an OTLP/gRPC receiver at u's host: over
// TLS for https (through the environment's proxy, if any, as a tunnel),
// else over HTTP/2 without TLS, as gRPC's insecure credentials do, and
// straight to the receiver: a forward proxy would speak HTTP/1.1 to it.
func NewGRPCSender(u *url.URL, method string) Sender {
	var protocols http.Protocols
	transport := &http.Transport{
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 2,
		Protocols:           &protocols,
	}
	scheme := "http"
	if u.Scheme == "https" {
		scheme = "https"
		protocols.SetHTTP2(true)
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		transport.Proxy = http.ProxyFromEnvironment
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	return &grpcSender{
		client: &http.Client{Transport: transport},
		url:    scheme + "://" + u.Host + method,
	}
}

// RetryLater is a failure to send that the receiver may not repeat: it
// was unavailable, overloaded or unreachable.
type RetryLater struct{ Err error }

func (r RetryLater) Error() string { return r.Err.Error() }
func (r RetryLater) Unwrap() error { return r.Err }

// firstRetry is the wait before the first retry of a request a
// receiver could not take, doubled for each next one.
const firstRetry = time.Second

// SendRetrying sends body, and again after a growing wait while the
// receiver answers that it may take it later, until ctx ends; the error
// is the last one.
func SendRetrying(ctx context.Context, s Sender, body []byte) error {
	wait := firstRetry
	for {
		err := s.Send(ctx, body)
		var later RetryLater
		if err == nil || !errors.As(err, &later) {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
			wait *= 2
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("the receiver did not take it in time: %w", err)
		}
	}
}

type httpSender struct {
	client *http.Client
	url    string
}

func (h *httpSender) Send(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := h.client.Do(req)
	if err != nil {
		return RetryLater{err}
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		return RetryLater{fmt.Errorf("%s answered %s", h.url, resp.Status)}
	}
	return fmt.Errorf("%s answered %s: %s", h.url, resp.Status, bytes.TrimSpace(msg))
}

func (h *httpSender) Close() { h.client.CloseIdleConnections() }

type grpcSender struct {
	client *http.Client
	url    string
}

// The gRPC status codes a sender tells apart (google.golang.org/grpc/codes).
const (
	grpcOK                = 0
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcAborted           = 10
	grpcUnavailable       = 14
)

// maxGRPCResponse bounds what is read of a response: OTLP's answers are
// a few bytes (a partial-success message at most).
const maxGRPCResponse = 64 << 10

// Send makes one unary call (gRPC over HTTP/2: a POST whose body is the
// message behind a 5-byte prefix, uncompressed, and whose answer's
// status comes in the trailers, or in the headers when there is no
// message).
func (g *grpcSender) Send(ctx context.Context, body []byte) error {
	framed := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(framed[1:], uint32(len(body)))
	framed = append(framed, body...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(framed))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	if deadline, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", grpcTimeout(time.Until(deadline)))
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return RetryLater{fmt.Errorf("calling %s: %w", g.url, err)}
	}
	_, readErr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxGRPCResponse))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Not from a gRPC server (a proxy's answer, say): gRPC's
		// mapping of HTTP statuses decides what may be retried.
		err := fmt.Errorf("%s answered %s", g.url, resp.Status)
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return RetryLater{err}
		}
		return err
	}
	status, message := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if status == "" {
		status, message = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if status == "" {
		if readErr != nil {
			return RetryLater{fmt.Errorf("reading %s's answer: %w", g.url, readErr)}
		}
		return fmt.Errorf("%s answered without a gRPC status", g.url)
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		return fmt.Errorf("%s answered gRPC status %q", g.url, status)
	}
	if code == grpcOK {
		return nil
	}
	if m, err := url.PathUnescape(message); err == nil {
		message = m
	}
	err = fmt.Errorf("%s answered gRPC status %d: %s", g.url, code, message)
	switch code {
	case grpcUnavailable, grpcResourceExhausted, grpcAborted, grpcDeadlineExceeded:
		return RetryLater{err}
	}
	return err
}

func (g *grpcSender) Close() { g.client.CloseIdleConnections() }

// grpcTimeout writes d as gRPC's Grpc-Timeout header: at most 8 digits
// and a unit.
func grpcTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	for _, unit := range []struct {
		size time.Duration
		name string
	}{{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"}, {time.Second, "S"}, {time.Minute, "M"}} {
		if n := (d + unit.size - 1) / unit.size; n < 1e8 {
			return strconv.FormatInt(int64(n), 10) + unit.name
		}
	}
	return strings.Repeat("9", 8) + "H"
}
