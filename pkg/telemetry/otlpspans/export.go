package otlpspans

import (
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

// Exporter batches ended spans and sends them to one receiver. A span
// is written in the export's format as it ends, while its fields are in
// the CPU's cache, and only those bytes wait for the batch: the span
// itself is free at once (a data path's span is reused, Tracer's
// StartServerAt) and a batch takes about a quarter of the memory the
// spans did.
type Exporter struct {
	// record appends one ended span in the export's format: an OTLP Span
	// field of a ScopeSpans message, or a JSON line.
	record func(dst []byte, s *span) []byte
	// byScope groups a batch's records by instrumentation scope, as
	// OTLP does; JSON lines keep the order the spans ended in.
	byScope bool
	// send sends one batch.
	send  func(ctx context.Context, b *batch) error
	close func()
	log   *slog.Logger

	mu sync.Mutex
	// pending are the batches to send, in order; the last one fills.
	pending []*batch
	// queued counts the spans pending hold.
	queued int
	// free are sent batches, kept for their buffers.
	free    []*batch
	dropped atomic.Int64

	wake    chan struct{}
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// batch is up to batchSize ended spans, written, grouped by
// instrumentation scope (when the format groups them) in the order the
// scopes came.
type batch struct {
	spans  int
	scopes []scopeRecords
}

// scopeRecords are the written spans of one scope.
type scopeRecords struct {
	tracer  *tracer
	records []byte
}

// add appends a span record of t's scope, keeping the buffers of the
// batch's earlier use.
func (b *batch) add(t *tracer, record []byte) {
	b.spans++
	for i := range b.scopes {
		if b.scopes[i].tracer == t {
			b.scopes[i].records = append(b.scopes[i].records, record...)
			return
		}
	}
	if len(b.scopes) < cap(b.scopes) {
		b.scopes = b.scopes[:len(b.scopes)+1]
	} else {
		b.scopes = append(b.scopes, scopeRecords{})
	}
	sr := &b.scopes[len(b.scopes)-1]
	sr.tracer, sr.records = t, append(sr.records[:0], record...)
}

// reset empties b for its next use; the scopes' buffers stay.
func (b *batch) reset() {
	b.spans = 0
	for i := range b.scopes {
		b.scopes[i].tracer = nil
	}
	b.scopes = b.scopes[:0]
}

// scratch holds a span's record while it is written, outside the
// exporter's lock.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

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
		j := &jsonLines{w: stdout, resource: attributeMap(resource)}
		e.record, e.send = j.record, j.send
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
		e.record, e.byScope = appendSpanRecord, true
		e.send = func(ctx context.Context, b *batch) error {
			body = enc.appendRequest(body[:0], b)
			return otlp.SendRetrying(ctx, sender, body)
		}
		e.close = sender.Close
	default:
		return nil, fmt.Errorf("tracing-protocol %q: want none, grpc, http/protobuf or stdout", cfg.Protocol)
	}
	go e.run()
	return e, nil
}

// add writes an ended span into the batch that fills, or drops it when
// maxQueue spans wait already. s is not kept.
func (e *Exporter) add(s *span) {
	buf := scratch.Get().(*[]byte)
	*buf = e.record((*buf)[:0], s)
	e.mu.Lock()
	if e.queued >= maxQueue {
		e.mu.Unlock()
		scratch.Put(buf)
		e.dropped.Add(1)
		return
	}
	var b *batch
	if n := len(e.pending); n > 0 && e.pending[n-1].spans < batchSize {
		b = e.pending[n-1]
	} else {
		if n := len(e.free); n > 0 {
			b = e.free[n-1]
			e.free = e.free[:n-1]
		} else {
			b = new(batch)
		}
		e.pending = append(e.pending, b)
	}
	var scope *tracer
	if e.byScope {
		scope = s.tracer
	}
	b.add(scope, *buf)
	e.queued++
	full := b.spans == batchSize
	e.mu.Unlock()
	scratch.Put(buf)
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

// exportQueued sends every batch pending now.
func (e *Exporter) exportQueued() {
	e.mu.Lock()
	batches := e.pending
	e.pending, e.queued = nil, 0
	e.mu.Unlock()
	for _, b := range batches {
		e.export(b)
	}
	if n := e.dropped.Swap(0); n > 0 {
		e.log.Warn("dropped spans: more ended than the receiver took", "spans", n, "queue", maxQueue)
	}
	e.mu.Lock()
	for _, b := range batches {
		b.reset()
		// As many as the queue can fill: a burst's buffers are not
		// kept beyond that.
		if len(e.free) < maxQueue/batchSize {
			e.free = append(e.free, b)
		}
	}
	e.mu.Unlock()
}

// export sends one batch, retrying what the receiver may take later
// until exportTimeout.
func (e *Exporter) export(b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	if err := e.send(ctx, b); err != nil {
		e.log.Warn("exporting spans", "spans", b.spans, "error", err)
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
	resource map[string]any
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

// record appends s as one JSON line.
func (j *jsonLines) record(dst []byte, s *span) []byte {
	out := jsonSpan{
		Name: s.name, TraceID: s.sc.TraceID().String(), SpanID: s.sc.SpanID().String(),
		Kind: s.kind.String(), Start: s.start, End: s.end,
		Attributes: attributeMap(s.attrs), Scope: s.tracer.scope.name, Resource: j.resource,
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
	line, err := json.Marshal(out)
	if err != nil {
		// Only an attribute's value can fail (a NaN); the line says so.
		line, _ = json.Marshal(map[string]string{"name": s.name, "error": err.Error()})
	}
	return append(append(dst, line...), '\n')
}

func (j *jsonLines) send(_ context.Context, b *batch) error {
	for _, sr := range b.scopes {
		if _, err := j.w.Write(sr.records); err != nil {
			return err
		}
	}
	return nil
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
