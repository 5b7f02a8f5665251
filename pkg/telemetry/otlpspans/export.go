package otlpspans

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"knative.dev/pkg/observability/tracing"
)

// The batching of ended spans: the SDK's batch span processor's defaults
// (OTEL_BSP_*), so that a receiver sees what it saw from the SDK.
const (
	// maxQueue ended spans wait at most; past it, spans are dropped and
	// counted rather than slow the requests that make them.
	maxQueue = 2048
	// batchSize spans go in one request, and that many waiting send one
	// at once.
	batchSize = 512
	// batchDelay is the longest a span waits for a batch.
	batchDelay = 5 * time.Second
	// exportTimeout bounds one batch's export, its retries included.
	exportTimeout = 30 * time.Second
	// firstRetry is the wait before the first retry of a batch a
	// receiver could not take, doubled for each next one.
	firstRetry = time.Second
)

// traceExportMethod is the OTLP/gRPC method that takes
// ExportTraceServiceRequests.
const traceExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// Exporter batches ended spans and sends them to one receiver.
type Exporter struct {
	send  func(ctx context.Context, spans []*span) error
	close func() error
	log   *slog.Logger

	mu    sync.Mutex
	queue []*span
	// spare is the queue's other buffer: the worker sends from one
	// while spans end into the other.
	spare   []*span
	dropped atomic.Int64

	wake    chan struct{}
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// NewExporter returns an Exporter for cfg's protocol and endpoint:
// OTLP over gRPC or over HTTP (protobuf), or one JSON line per span on
// stdout; resource describes the process on every span, and log hears
// of exports that fail. Protocol none has no exporter: nil.
func NewExporter(cfg tracing.Config, resource []attribute.KeyValue, stdout io.Writer, log *slog.Logger) (*Exporter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{
		log:     log,
		wake:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		close:   func() error { return nil },
	}
	switch cfg.Protocol {
	case tracing.ProtocolNone:
		return nil, nil
	case tracing.ProtocolStdout:
		e.send = (&jsonLines{w: stdout, resource: resource}).send
	case tracing.ProtocolHTTPProtobuf, tracing.ProtocolGRPC:
		u, err := ParseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("tracing-endpoint %q: %w", cfg.Endpoint, err)
		}
		enc := newEncoder(resource)
		var post func(ctx context.Context, body []byte) error
		if cfg.Protocol == tracing.ProtocolGRPC {
			g, err := newGRPCPoster(u)
			if err != nil {
				return nil, err
			}
			post, e.close = g.post, g.conn.Close
		} else {
			h := newHTTPPoster(u)
			post = h.post
			e.close = func() error { h.client.CloseIdleConnections(); return nil }
		}
		var body []byte
		e.send = func(ctx context.Context, spans []*span) error {
			body = enc.appendRequest(body[:0], spans)
			return post(ctx, body)
		}
	default:
		return nil, fmt.Errorf("tracing-protocol %q: want none, grpc, http/protobuf or stdout", cfg.Protocol)
	}
	go e.run()
	return e, nil
}

// ParseEndpoint reads an OTLP receiver's URL, http:// or https://, as
// config-observability's tracing-endpoint gives it; its error says what
// is wanted.
func ParseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("want an http:// or https:// URL, such as http://collector:4318/v1/traces for http/protobuf or http://collector:4317 for grpc")
	}
	return u, nil
}

// add queues an ended span, or drops it when the queue is full.
func (e *Exporter) add(s *span) {
	e.mu.Lock()
	if len(e.queue) >= maxQueue {
		e.mu.Unlock()
		e.dropped.Add(1)
		return
	}
	e.queue = append(e.queue, s)
	full := len(e.queue) >= batchSize
	e.mu.Unlock()
	if full {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// run sends batches until Shutdown: when a batch is full, when the
// oldest span has waited batchDelay, and on ForceFlush.
func (e *Exporter) run() {
	defer close(e.done)
	timer := time.NewTimer(batchDelay)
	defer timer.Stop()
	for {
		var flushed chan struct{}
		select {
		case <-e.wake:
		case <-timer.C:
		case flushed = <-e.flushes:
		case <-e.stop:
			e.exportQueued()
			if err := e.close(); err != nil {
				e.log.Warn("closing the connection to the trace receiver", "error", err)
			}
			return
		}
		e.exportQueued()
		if flushed != nil {
			close(flushed)
		}
		timer.Reset(batchDelay)
	}
}

// exportQueued sends every span queued now, in batches.
func (e *Exporter) exportQueued() {
	e.mu.Lock()
	queued := e.queue
	e.queue = e.spare[:0]
	e.mu.Unlock()
	for start := 0; start < len(queued); start += batchSize {
		e.export(queued[start:min(start+batchSize, len(queued))])
	}
	if n := e.dropped.Swap(0); n > 0 {
		e.log.Warn("dropped spans: more ended than the receiver took", "spans", n, "queue", maxQueue)
	}
	// The sent spans are not kept alive by the buffer.
	clear(queued)
	e.mu.Lock()
	e.spare = queued[:0]
	e.mu.Unlock()
}

// export sends one batch, retrying what the receiver may take later
// until exportTimeout.
func (e *Exporter) export(spans []*span) {
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	wait := firstRetry
	for {
		err := e.send(ctx, spans)
		if err == nil {
			return
		}
		var later retryLater
		if !errors.As(err, &later) {
			e.log.Warn("exporting spans", "spans", len(spans), "error", err)
			return
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			e.log.Warn("exporting spans: the receiver did not take them in time", "spans", len(spans), "timeout", exportTimeout, "error", err)
			return
		}
	}
}

// ForceFlush sends what is queued and waits for it, until ctx ends.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	flushed := make(chan struct{})
	select {
	case e.flushes <- flushed:
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown sends what is queued and closes the connection to the
// receiver, waiting for both until ctx ends (they go on after).
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.stopped.Do(func() { close(e.stop) })
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryLater is an export's failure that the receiver may not repeat:
// it was unavailable, overloaded or unreachable.
type retryLater struct{ err error }

func (r retryLater) Error() string { return r.err.Error() }
func (r retryLater) Unwrap() error { return r.err }

// httpPoster posts requests to an OTLP/HTTP receiver.
type httpPoster struct {
	client *http.Client
	url    string
}

func newHTTPPoster(u *url.URL) *httpPoster {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 2
	return &httpPoster{client: &http.Client{Transport: transport}, url: u.String()}
}

func (h *httpPoster) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := h.client.Do(req)
	if err != nil {
		return retryLater{err}
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		return retryLater{fmt.Errorf("%s answered %s", h.url, resp.Status)}
	}
	return fmt.Errorf("%s answered %s: %s", h.url, resp.Status, bytes.TrimSpace(msg))
}

// grpcPoster calls an OTLP/gRPC receiver with the request's bytes as
// they are.
type grpcPoster struct {
	conn *grpc.ClientConn
}

func newGRPCPoster(u *url.URL) (*grpcPoster, error) {
	creds := insecure.NewCredentials()
	if u.Scheme == "https" {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(u.Host, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("tracing-endpoint %s: %w", u, err)
	}
	return &grpcPoster{conn: conn}, nil
}

func (g *grpcPoster) post(ctx context.Context, body []byte) error {
	var reply rawMessage
	err := g.conn.Invoke(ctx, traceExportMethod, rawMessage(body), &reply, grpc.ForceCodec(rawCodec{}))
	switch status.Code(err) {
	case grpccodes.OK:
		return nil
	case grpccodes.Unavailable, grpccodes.ResourceExhausted, grpccodes.Aborted, grpccodes.DeadlineExceeded:
		return retryLater{err}
	}
	return err
}

// rawMessage is a message already in protobuf's wire format.
type rawMessage []byte

// rawCodec sends rawMessages as they are: the content type is protobuf's.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(rawMessage)
	if !ok {
		return nil, fmt.Errorf("otlpspans: cannot send a %T", v)
	}
	return m, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("otlpspans: cannot receive into a %T", v)
	}
	*m = append((*m)[:0], data...)
	return nil
}

// jsonLines writes one JSON object per span, for protocol stdout: a
// reading aid, not a format to parse.
type jsonLines struct {
	w        io.Writer
	resource []attribute.KeyValue
}

type jsonSpan struct {
	Name         string         `json:"name"`
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	ParentSpanID string         `json:"parentSpanId,omitempty"`
	Kind         string         `json:"kind"`
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	Status       string         `json:"status,omitempty"`
	Description  string         `json:"statusDescription,omitempty"`
	Events       []string       `json:"events,omitempty"`
	Scope        string         `json:"scope"`
	Resource     map[string]any `json:"resource"`
}

func (j *jsonLines) send(_ context.Context, spans []*span) error {
	resource := attributeMap(j.resource)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, s := range spans {
		out := jsonSpan{
			Name: s.name, TraceID: s.sc.TraceID().String(), SpanID: s.sc.SpanID().String(),
			Kind: s.kind.String(), Start: s.start, End: s.end,
			Attributes: attributeMap(s.attrs), Scope: s.tracer.scope.name, Resource: resource,
		}
		if s.parent.SpanID().IsValid() {
			out.ParentSpanID = s.parent.SpanID().String()
		}
		if s.status != codes.Unset {
			out.Status, out.Description = s.status.String(), s.statusMessage
		}
		for _, ev := range s.events {
			out.Events = append(out.Events, ev.name)
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	_, err := j.w.Write(buf.Bytes())
	return err
}

func attributeMap(kvs []attribute.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}
