package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/telemetry"
)

// ReplyLimit bounds the body of a response read as a reply event.
const ReplyLimit = 4 << 20

// drainLimit is how much of an unread response body is read away so that
// its connection can carry the next request; past it the connection is
// closed instead, which costs less than reading on.
const drainLimit = 64 << 10

// Result is what the caller does with the stored message.
type Result int

// The results, the zero value the safe one: a message whose delivery is
// not known to be settled is left to be redelivered.
const (
	// Unsent: the event reached neither the subscriber nor a dead-letter
	// sink, because the sink failed too or the context ended. Do not ack:
	// JetStream redelivers it.
	Unsent Result = iota
	// Delivered: the subscriber accepted the event. Ack; publish the
	// Outcome's Reply, if any.
	Delivered
	// DeadLettered: the subscriber did not accept it and the dead-letter
	// sink did. Ack.
	DeadLettered
	// Dropped: the subscriber did not accept it and there is no
	// dead-letter sink, or the event cannot be encoded at all. Terminate
	// the message; Knative drops such an event too.
	Dropped
)

func (r Result) String() string {
	switch r {
	case Unsent:
		return "Unsent"
	case Delivered:
		return "Delivered"
	case DeadLettered:
		return "DeadLettered"
	case Dropped:
		return "Dropped"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Outcome is how one delivery ended, with what logs and metrics need.
type Outcome struct {
	Result Result

	// Reply is the event a subscriber answered a 200 with, if any.
	Reply *event.Event
	// ReplyErr says why a 200 that claimed to carry an event gave no
	// Reply: malformed, batched, or too large. The event counts as
	// delivered all the same, as the contract asks; this is for the log.
	ReplyErr error

	// Attempts is how many requests went to the subscriber.
	Attempts int
	// StatusCode is the subscriber's last HTTP status, 0 if none came.
	StatusCode int
	// Err is why the subscriber did not take the event; nil if it did.
	Err error

	// DeadLetterAttempts is how many requests went to the dead-letter sink.
	DeadLetterAttempts int
	// DeadLetterStatusCode is the sink's last HTTP status, 0 if none came.
	DeadLetterStatusCode int
	// DeadLetterErr is why the dead-letter sink did not take the event.
	DeadLetterErr error
}

// Target is where an attempt goes.
type Target int

// The targets of a delivery.
const (
	TargetSubscriber Target = iota
	TargetDeadLetter
)

func (t Target) String() string {
	if t == TargetDeadLetter {
		return "dead-letter sink"
	}
	return "subscriber"
}

// Retry describes a retry about to wait for its backoff.
type Retry struct {
	Target Target
	// Number counts the retries to Target from 1.
	Number int
	// Delay is the wait before it.
	Delay time.Duration
	// StatusCode and Err are the failed attempt's.
	StatusCode int
	Err        error
}

// Hooks let the caller act during a delivery. Each may be nil.
type Hooks struct {
	// BeforeRetry is called before each wait for a retry, to the
	// subscriber or the dead-letter sink. The dispatcher tells JetStream
	// here that the message is still in progress, so a long backoff does
	// not end in a redelivery.
	BeforeRetry func(Retry)
	// SpanAttributes go on the span of each attempt, while tracing is on:
	// the dispatcher names the Trigger and Broker there.
	SpanAttributes []attribute.KeyValue
}

// Deliverer sends events to subscribers. It is safe for concurrent use.
// Backoffs wait on its clock; an attempt's timeout is a context deadline
// in real time, the time the network runs on.
type Deliverer struct {
	client *http.Client
	// lean, when set, sends to plain http:// URLs instead of client: one
	// write and one read per attempt on a kept-alive connection, and no
	// goroutines of its own, where net/http's Transport has a reader and
	// a writer per connection that every request wakes in turn (a tenth
	// to a sixth of the dispatcher's CPU per event, docs/benchmarks.md).
	lean   *http1.UpstreamSet
	clock  clock.Clock
	tracer *telemetry.Tracer
}

// New returns a Deliverer that sends with client and waits out backoffs
// on clk (the real clock when nil). With no client, it sends to http://
// URLs on the lean HTTP/1.1 client of package http1 (unless the
// environment names a proxy for them), and to the others on a client on
// NewTransport. Redirects are not followed whatever client says: the
// contract treats a 3xx as a failed delivery.
func New(client *http.Client, clk clock.Clock) *Deliverer {
	var lean *http1.UpstreamSet
	if client == nil {
		client = &http.Client{Transport: NewTransport()}
		if !proxiedHTTP() {
			lean = http1.NewUpstreamSet(http1.UpstreamOptions{MaxIdle: MaxIdleConnsPerHost, DialTimeout: dialTimeout})
		}
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Deliverer{client: &c, lean: lean, clock: clk}
}

// proxiedHTTP reports whether the environment sends http:// requests
// through a proxy, which only net/http's Transport knows how to use.
func proxiedHTTP() bool {
	req := &http.Request{URL: &url.URL{Scheme: "http", Host: "subscriber.invalid"}}
	proxy, err := http.ProxyFromEnvironment(req)
	return err != nil || proxy != nil
}

// CloseIdleConnections closes the connections kept alive for the next
// deliveries.
func (d *Deliverer) CloseIdleConnections() {
	d.client.CloseIdleConnections()
	if d.lean != nil {
		d.lean.CloseIdleConnections()
	}
}

// WithTracer returns a Deliverer like d that, while tracing is on, makes
// a span of each attempt as a child of the event's trace context (its
// traceparent extension), and sends the event with that span as its
// traceparent. Without tracing the event's traceparent goes as it is.
func (d *Deliverer) WithTracer(t *telemetry.Tracer) *Deliverer {
	c := *d
	c.tracer = t
	return &c
}

// Deliver sends ev to subscriber as p says, and to deadLetter when every
// attempt failed and deadLetter is not nil; the dead-letter sink gets the
// same retries, backoff and timeout as the subscriber. It returns when the
// event is settled, or ctx ends; ev is not modified.
func (d *Deliverer) Deliver(ctx context.Context, ev *event.Event, subscriber, deadLetter *url.URL, p Params, h Hooks) Outcome {
	if subscriber == nil {
		return Outcome{Result: Unsent, Err: errors.New("no subscriber URL")}
	}
	msg, err := encodeBinary(ev)
	if err != nil {
		// No attempt, here or at a dead-letter sink, could ever send it.
		return Outcome{Result: Dropped, Err: fmt.Errorf("encoding the event: %w", err)}
	}

	// The attempts' spans are children of the event's trace.
	parent := ctx
	if d.tracer.On() {
		parent = eventing.ContextWithEventTrace(ctx, ev)
	}
	sub := d.send(ctx, parent, TargetSubscriber, subscriber, msg, p, h)
	out := Outcome{
		Attempts:   sub.attempts,
		StatusCode: sub.last.status,
		Err:        sub.last.err,
	}
	switch {
	case sub.last.ok:
		out.Result = Delivered
		out.Reply, out.ReplyErr = sub.last.reply, sub.last.replyErr
		return out
	case ctx.Err() != nil:
		out.Result = Unsent
		return out
	case deadLetter == nil:
		out.Result = Dropped
		return out
	}

	dlEvent, err := deadLetterEvent(ev, failure{dest: subscriber, status: sub.last.status, body: sub.last.body, err: sub.last.err})
	if err == nil {
		msg, err = encodeBinary(dlEvent)
	}
	if err != nil {
		out.Result = Unsent
		out.DeadLetterErr = fmt.Errorf("adding the dead-letter extensions: %w", err)
		return out
	}
	dl := d.send(ctx, parent, TargetDeadLetter, deadLetter, msg, p, h)
	out.DeadLetterAttempts = dl.attempts
	out.DeadLetterStatusCode = dl.last.status
	out.DeadLetterErr = dl.last.err
	if dl.last.ok {
		out.Result = DeadLettered
	} else {
		out.Result = Unsent
	}
	return out
}

// sent is how the attempts to one target went.
type sent struct {
	attempts int
	last     attempt
}

// send makes the first attempt to target and the retries p allows, while
// the failures are retryable and ctx lasts. parent is ctx with the
// event's trace, the parent of the attempts' spans.
func (d *Deliverer) send(ctx, parent context.Context, target Target, u *url.URL, msg encoded, p Params, h Hooks) sent {
	var s sent
	for {
		s.attempts++
		if d.tracer.On() {
			s.last = d.tryTraced(ctx, parent, target, u, msg, p.timeout(), s.attempts, h.SpanAttributes)
		} else {
			s.last = d.try(ctx, target, u, msg, p.timeout(), nil)
		}
		if s.last.ok || !s.last.retryable || s.attempts > p.Retry || ctx.Err() != nil {
			return s
		}
		delay := p.Backoff(s.attempts)
		if h.BeforeRetry != nil {
			h.BeforeRetry(Retry{Target: target, Number: s.attempts, Delay: delay, StatusCode: s.last.status, Err: s.last.err})
		}
		if err := d.wait(ctx, delay); err != nil {
			s.last.err = fmt.Errorf("%w while waiting %v to retry after: %w", err, delay, s.last.err)
			return s
		}
	}
}

// wait blocks for delay on the clock, or until ctx ends.
func (d *Deliverer) wait(ctx context.Context, delay time.Duration) error {
	if delay <= 0 {
		return ctx.Err()
	}
	t := d.clock.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// attempt is how one request went.
type attempt struct {
	ok        bool
	retryable bool
	status    int
	body      []byte // the start of a failed response's body
	err       error
	reply     *event.Event
	replyErr  error
}

// tryTraced is try inside a span of the attempt, a child of parent,
// which the request carries as its traceparent.
func (d *Deliverer) tryTraced(ctx, parent context.Context, target Target, u *url.URL, msg encoded, timeout time.Duration, number int, attrs []attribute.KeyValue) attempt {
	sctx, span := d.tracer.Start(parent, SpanAttempt, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...),
		trace.WithAttributes(AttrTarget.String(target.String()), AttrAttempt.Int(number), attrURL.String(u.Redacted())))
	a := d.try(ctx, target, u, msg, timeout, func(h http.Header) {
		eventing.InjectTraceContext(sctx, h)
	})
	if a.status != 0 {
		span.SetAttributes(attrStatus.Int(a.status))
	}
	if !a.ok {
		msg := "not accepted"
		if a.err != nil {
			msg = a.err.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	span.End()
	return a
}

// The span of an attempt and its attributes.
const (
	// SpanAttempt is one request of a delivery, to the subscriber or the
	// dead-letter sink.
	SpanAttempt = "delivery.attempt"
	// AttrTarget is "subscriber" or "dead-letter sink"; AttrAttempt
	// counts the attempts to that target from 1.
	AttrTarget  = attribute.Key("flywheel.delivery.target")
	AttrAttempt = attribute.Key("flywheel.delivery.attempt")
	attrURL     = attribute.Key("url.full")
	attrStatus  = attribute.Key("http.response.status_code")
)

// try makes one request, bounded by timeout, and reads what it needs of
// the response within the same bound. setTrace, when not nil, sets the
// request's trace context fields.
func (d *Deliverer) try(ctx context.Context, target Target, u *url.URL, msg encoded, timeout time.Duration, setTrace func(http.Header)) attempt {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if d.lean != nil && u.Scheme == "http" && u.User == nil {
		return d.tryLean(ctx, actx, target, u, msg, setTrace)
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(msg.body))
	if err != nil {
		return attempt{err: fmt.Errorf("building the request to %s: %w", u.Redacted(), err)}
	}
	req.Header = msg.header.Clone()
	if setTrace != nil {
		setTrace(req.Header)
	}
	if target == TargetSubscriber {
		// The contract asks Brokers to offer to take replies from a
		// subscriber; a dead-letter sink's reply is not routed anywhere.
		req.Header.Set("Prefer", "reply")
	}
	resp, err := d.client.Do(req) //nolint:bodyclose // drainAndClose below closes it, after reading what is left
	if err != nil {
		// A network error or this attempt's timeout is worth retrying; the
		// caller's context ending is not.
		return attempt{retryable: ctx.Err() == nil, err: err}
	}
	defer drainAndClose(resp.Body)

	a := attempt{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		a.ok = true
		if target == TargetSubscriber && resp.StatusCode == http.StatusOK {
			a.reply, a.replyErr = readReply(resp)
		}
		return a
	}
	a.retryable = retryable(resp.StatusCode)
	a.body, _ = io.ReadAll(io.LimitReader(resp.Body, ErrorDataLimit))
	a.err = fmt.Errorf("%s %s answered %d %s", target, u.Redacted(), resp.StatusCode, http.StatusText(resp.StatusCode))
	return a
}

// tryLean is try on the lean client, its context actx.
func (d *Deliverer) tryLean(ctx, actx context.Context, target Target, u *url.URL, msg encoded, setTrace func(http.Header)) attempt {
	header := msg.header.Clone()
	if setTrace != nil {
		setTrace(header)
	}
	if target == TargetSubscriber {
		header.Set("Prefer", "reply")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	req := &http1.ClientRequest{Method: http.MethodPost, Target: u.RequestURI(), Host: u.Host, Header: header, Body: msg.body}
	resp, err := d.lean.Get(addr).Do(actx, req, func(status int, h http.Header) int {
		switch {
		case status < 200 || status >= 300:
			return ErrorDataLimit
		case target == TargetSubscriber && status == http.StatusOK && replyModeOf(h) != noEvent:
			// One byte past the limit tells a reply too large.
			return ReplyLimit + 1
		}
		return 0
	})
	if err != nil {
		return attempt{retryable: ctx.Err() == nil, err: fmt.Errorf("posting to %s: %w", u.Redacted(), err)}
	}
	a := attempt{status: resp.Status}
	if resp.Status >= 200 && resp.Status < 300 {
		a.ok = true
		if target == TargetSubscriber && resp.Status == http.StatusOK {
			a.reply, a.replyErr = decodeReply(resp.Header, resp.Body)
		}
		return a
	}
	a.retryable = retryable(resp.Status)
	a.body = resp.Body
	a.err = fmt.Errorf("%s %s answered %d %s", target, u.Redacted(), resp.Status, http.StatusText(resp.Status))
	return a
}

// retryable says whether the data-plane contract has a sender retry a
// failed delivery answered with code: 404, 409, 429, every 5xx, and any
// code the contract's table does not cover. 1xx, 3xx, 400 and the other
// 4xx are final.
func retryable(code int) bool {
	switch {
	case code == http.StatusNotFound, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 100 && code < 500:
		return false
	default:
		return true
	}
}

// errReplyTooLarge marks a reply past ReplyLimit.
var errReplyTooLarge = fmt.Errorf("the reply is larger than %d bytes", ReplyLimit)

// readReply reads the event a 200 carries, if it carries one. A body that
// claims no CloudEvents encoding is a plain payload: no reply, no error.
func readReply(resp *http.Response) (*event.Event, error) {
	if replyModeOf(resp.Header) == noEvent {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, ReplyLimit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the reply: %w", err)
	}
	return decodeReply(resp.Header, body)
}

// decodeReply reads the event of a 200 from its fields and body, read up
// to one byte past ReplyLimit.
func decodeReply(h http.Header, body []byte) (*event.Event, error) {
	mode := replyModeOf(h)
	switch mode {
	case noEvent:
		return nil, nil
	case batchMode:
		return nil, errors.New("a batch of events is not a reply")
	}
	if len(body) > ReplyLimit {
		return nil, errReplyTooLarge
	}
	var ev *event.Event
	var err error
	if mode == structuredMode {
		ev, err = decodeStructured(body)
	} else {
		ev, err = decodeBinary(h, body)
	}
	if err != nil {
		return nil, fmt.Errorf("malformed reply event: %w", err)
	}
	return ev, nil
}

// drainAndClose reads away what is left of a body, up to drainLimit, so
// the connection goes back to the pool, then closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}
