package delivery

import (
	"encoding/base64"
	"net/url"

	"github.com/cloudevents/sdk-go/v2/event"
)

// The extensions an event carries to a dead-letter sink, named as Knative
// names them so that a sink written for Knative reads them unchanged.
const (
	// ExtensionErrorDest is the URL the event could not be delivered to,
	// any password in it masked.
	ExtensionErrorDest = "knativeerrordest"
	// ExtensionErrorCode is the HTTP status of the last attempt, an Int.
	ExtensionErrorCode = "knativeerrorcode"
	// ExtensionErrorData is the start of the last response body, base64.
	ExtensionErrorData = "knativeerrordata"
)

// ErrorDataLimit bounds how much of a failed response's body goes into
// knativeerrordata, before base64 (which makes it 4/3 longer): enough for
// an error message, small enough for an HTTP header.
const ErrorDataLimit = 1024

// failure is what the last attempt to the subscriber left to report.
type failure struct {
	dest   *url.URL
	status int    // 0 when no response came back
	body   []byte // at most ErrorDataLimit bytes of the response
	err    error
}

// deadLetterEvent is a copy of ev with the dead-letter extensions set from
// f; extensions a previous dead-lettering left and f has no value for are
// removed rather than passed on stale.
func deadLetterEvent(ev *event.Event, f failure) (*event.Event, error) {
	out := ev.Clone()
	if err := out.Context.SetExtension(ExtensionErrorDest, f.dest.Redacted()); err != nil {
		return nil, err
	}
	var code any
	if f.status != 0 {
		code = int32(f.status)
	}
	if err := out.Context.SetExtension(ExtensionErrorCode, code); err != nil {
		return nil, err
	}
	// With no response there is no body: the error then says what went
	// wrong (a refused connection, a timeout) where the body would have.
	data := f.body
	if f.status == 0 && f.err != nil {
		data = []byte(f.err.Error())
	}
	if len(data) > ErrorDataLimit {
		data = data[:ErrorDataLimit]
	}
	var encoded any
	if len(data) > 0 {
		encoded = base64.StdEncoding.EncodeToString(data)
	}
	if err := out.Context.SetExtension(ExtensionErrorData, encoded); err != nil {
		return nil, err
	}
	return &out, nil
}
