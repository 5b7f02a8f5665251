package otlpspans

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"flywheel.dev/pkg/telemetry/obsconfig"
	"flywheel.dev/pkg/telemetry/otlp"
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
)

// Exporter batches ended spans and sends them to one receiver.
type Exporter struct {
	send  func(ctx context.Context, spans []*span) error
	close func()
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
func NewExporter(cfg obsconfig.Tracing, resource []attribute.KeyValue, stdout io.Writer, log *slog.Logger) (*Exporter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{
		log:     log,
		wake:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		close:   func() {},
	}
	switch cfg.Protocol {
	case obsconfig.ProtocolNone:
		return nil, nil
	case obsconfig.ProtocolStdout:
		e.send = (&jsonLines{w: stdout, resource: resource}).send
	case obsconfig.ProtocolHTTPProtobuf, obsconfig.ProtocolGRPC:
		u, err := otlp.ParseEndpoint(cfg.Endpoint, "traces")
		if err != nil {
			return nil, fmt.Errorf("tracing-endpoint %q: %w", cfg.Endpoint, err)
		}
		var sender otlp.Sender
		if cfg.Protocol == obsconfig.ProtocolGRPC {
			sender = otlp.NewGRPCSender(u, otlp.TraceExportMethod)
		} else {
			sender = otlp.NewHTTPSender(u)
		}
		enc := newEncoder(resource)
		var body []byte
		e.send = func(ctx context.Context, spans []*span) error {
			body = enc.appendRequest(body[:0], spans)
			return otlp.SendRetrying(ctx, sender, body)
		}
		e.close = sender.Close
	default:
		return nil, fmt.Errorf("tracing-protocol %q: want none, grpc, http/protobuf or stdout", cfg.Protocol)
	}
	go e.run()
	return e, nil
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
			e.close()
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
	if err := e.send(ctx, spans); err != nil {
		e.log.Warn("exporting spans", "spans", len(spans), "error", err)
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
