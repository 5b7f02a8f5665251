package ingress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// specVersionHeader carries a binary-mode event's specversion; its
// presence is what makes a request binary-mode.
const specVersionHeader = "Ce-Specversion"

// requestError is a request the ingress refuses, with the status and
// the plain-text reason to answer.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// readBody reads the whole body into one buffer, refusing with 413 a body
// longer than limit: before reading any of it when its length is
// declared, as soon as it passes limit when it is chunked. A declared
// length is read into a buffer of exactly that size.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(r.ContentLength, limit)
	}
	if r.ContentLength >= 0 {
		// The server ends the body at the declared length.
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return bytes.NewBuffer(buf), nil
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(-1, limit)
		}
		return nil, err
	}
	return &buf, nil
}

func tooLarge(n, limit int64) *requestError {
	msg := fmt.Sprintf("the event is longer than this Broker ingress takes, %d bytes", limit)
	if n >= 0 {
		msg = fmt.Sprintf("the event's %d bytes are more than this Broker ingress takes, %d bytes", n, limit)
	}
	return &requestError{code: http.StatusRequestEntityTooLarge, msg: msg}
}

// message is a request as the SDK's binding reads it, its body already
// read: the embedded Message reads the headers. In binary mode the body
// goes to the writer as the *bytes.Buffer it is, which the SDK's event
// builder keeps as the event's data without copying it; in structured
// mode the builder copies it once before parsing it.
type message struct {
	*cehttp.Message
	body *bytes.Buffer
}

// ReadStructured implements binding.MessageReader.
func (m message) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.ReadEncoding() != binding.EncodingStructured {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, format.Lookup(m.Header.Get("Content-Type")), m.body)
}

// ReadBinary implements binding.MessageReader.
func (m message) ReadBinary(ctx context.Context, w binding.BinaryWriter) error {
	// The embedded Message has no body reader: it writes the attributes
	// and extensions only.
	if err := m.Message.ReadBinary(ctx, headerWriter{w}); err != nil {
		return err
	}
	if m.body.Len() == 0 {
		return nil
	}
	return w.SetData(m.body)
}

// headerWriter names the header in the error of an attribute or an
// extension the SDK refuses, which it does not.
type headerWriter struct {
	binding.BinaryWriter
}

func (w headerWriter) SetAttribute(attr spec.Attribute, value any) error {
	if err := w.BinaryWriter.SetAttribute(attr, value); err != nil {
		return fmt.Errorf("%s (header %s): %w", attr.Name(), attributeHeader(attr.Name()), err)
	}
	return nil
}

func (w headerWriter) SetExtension(name string, value any) error {
	if err := w.BinaryWriter.SetExtension(name, value); err != nil {
		return fmt.Errorf("extension %s (header %s): %w", name, attributeHeader(name), err)
	}
	return nil
}

// decode makes the request into an event, once, and validates it.
func decode(ctx context.Context, header http.Header, body *bytes.Buffer) (*event.Event, error) {
	m := message{Message: cehttp.NewMessage(header, nil), body: body}
	switch m.ReadEncoding() {
	case binding.EncodingBinary, binding.EncodingStructured:
	case binding.EncodingBatch:
		return nil, &requestError{code: http.StatusUnsupportedMediaType, msg: fmt.Sprintf(
			"batched events (%s) are not taken: post one event a request", event.ApplicationCloudEventsBatchJSON)}
	default:
		return nil, unknownEncoding(header)
	}
	binary := m.ReadEncoding() == binding.EncodingBinary
	ev, err := binding.ToEvent(ctx, m)
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		mode := "structured-mode"
		if binary {
			mode = "binary-mode"
		}
		return nil, badRequest("invalid %s CloudEvent: %s", mode, describe(err, binary))
	}
	return ev, nil
}

// unknownEncoding says why a request is neither a binary-mode nor a
// structured-mode event.
func unknownEncoding(header http.Header) *requestError {
	if v := header.Get(specVersionHeader); v != "" {
		return badRequest("unknown specversion %q in header %s: this Broker takes CloudEvents %s and %s",
			v, specVersionHeader, event.CloudEventsVersionV1, event.CloudEventsVersionV03)
	}
	if ct := header.Get("Content-Type"); format.IsFormat(ct) {
		return &requestError{code: http.StatusUnsupportedMediaType, msg: fmt.Sprintf(
			"event format %q is not taken: post %s (structured mode) or a binary-mode event",
			ct, event.ApplicationCloudEventsJSON)}
	}
	return badRequest("not a CloudEvent: a binary-mode event needs the header %s, a structured-mode one the Content-Type %s",
		specVersionHeader, event.ApplicationCloudEventsJSON)
}

// describe words a decoding or validation error, one attribute after
// another in a stable order, naming each attribute's header in binary
// mode, where the producer set headers.
func describe(err error, binary bool) string {
	verr, ok := errors.AsType[event.ValidationError](err)
	if !ok {
		return err.Error()
	}
	parts := make([]string, 0, len(verr))
	for _, attr := range slices.Sorted(maps.Keys(verr)) {
		name := attr
		if binary {
			name = fmt.Sprintf("%s (header %s)", attr, attributeHeader(attr))
		}
		parts = append(parts, fmt.Sprintf("%s: %v", name, verr[attr]))
	}
	return strings.Join(parts, "; ")
}

// attributeHeader is the binary-mode header of a context attribute.
func attributeHeader(attr string) string {
	if attr == "datacontenttype" {
		return "Content-Type"
	}
	return textproto.CanonicalMIMEHeaderKey("ce-" + attr)
}
