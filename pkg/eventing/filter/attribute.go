package filter

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// attrKind says where in an event an attribute lives.
type attrKind uint8

const (
	kindExtension attrKind = iota
	kindSpecVersion
	kindID
	kindSource
	kindType
	kindSubject
	kindDataContentType
	kindDataSchema
	kindTime
)

// contextAttributes are the CloudEvents 1.0 context attributes; every other
// name is an extension.
var contextAttributes = map[string]attrKind{
	"specversion":     kindSpecVersion,
	"id":              kindID,
	"source":          kindSource,
	"type":            kindType,
	"subject":         kindSubject,
	"datacontenttype": kindDataContentType,
	"dataschema":      kindDataSchema,
	"time":            kindTime,
}

// attribute names one attribute, resolved once at Compile.
type attribute struct {
	name string
	kind attrKind
}

func newAttribute(name string) (attribute, error) {
	if err := eventingv1.ValidateAttributeName(name); err != nil {
		return attribute{}, err
	}
	return attribute{name: name, kind: contextAttributes[name]}, nil
}

// cost ranks the work of reading the attribute: URIs may need assembling
// and times formatting, where the others are strings at hand.
func (a attribute) cost() int {
	switch a.kind {
	case kindSource, kindDataSchema:
		return 2
	case kindTime:
		return 3
	}
	return 1
}

// text is an attribute's string form held so that reading it allocates
// nothing: either parts that read in order (a URI's scheme, "://", host and
// path stay where the URL keeps them) or raw bytes formatted into a buffer
// of the caller's.
type text struct {
	parts [4]string
	raw   []byte
	isRaw bool
}

func textOf(s string) text { return text{parts: [4]string{s}} }

func (t *text) len() int {
	if t.isRaw {
		return len(t.raw)
	}
	return len(t.parts[0]) + len(t.parts[1]) + len(t.parts[2]) + len(t.parts[3])
}

// String joins the text; the filter itself never needs to.
func (t *text) String() string {
	if t.isRaw {
		return string(t.raw)
	}
	return strings.Join(t.parts[:], "")
}

func (t *text) equal(want string) bool {
	if t.isRaw {
		return string(t.raw) == want
	}
	return t.len() == len(want) && t.hasPrefix(want)
}

func (t *text) hasPrefix(want string) bool {
	if t.isRaw {
		return len(t.raw) >= len(want) && string(t.raw[:len(want)]) == want
	}
	for _, p := range t.parts {
		if len(want) <= len(p) {
			return p[:len(want)] == want
		}
		if want[:len(p)] != p {
			return false
		}
		want = want[len(p):]
	}
	return want == ""
}

func (t *text) hasSuffix(want string) bool {
	if t.isRaw {
		return len(t.raw) >= len(want) && string(t.raw[len(t.raw)-len(want):]) == want
	}
	for i := len(t.parts) - 1; i >= 0; i-- {
		p := t.parts[i]
		if len(want) <= len(p) {
			return p[len(p)-len(want):] == want
		}
		if want[len(want)-len(p):] != p {
			return false
		}
		want = want[:len(want)-len(p)]
	}
	return want == ""
}

// lookup returns the attribute's string form, and false when the event
// lacks the attribute. Time and integer values are formatted into buf.
func (a attribute) lookup(ev *event.Event, buf []byte) (text, bool) {
	if ev == nil || ev.Context == nil {
		return text{}, false
	}
	var t text
	var ok bool
	// The SDK's own contexts are read field by field: the EventContext
	// getters would format URIs and times into new strings, and GetExtension
	// builds an error for every extension an event lacks.
	switch c := ev.Context.(type) {
	case *event.EventContextV1:
		t, ok = a.lookupV1(c, buf)
	case *event.EventContextV03:
		t, ok = a.lookupV03(c, buf)
	default:
		t, ok = a.lookupReader(c, buf)
	}
	if !ok || (a.kind != kindExtension && t.len() == 0) {
		return text{}, false
	}
	return t, true
}

func (a attribute) lookupV1(c *event.EventContextV1, buf []byte) (text, bool) {
	switch a.kind {
	case kindSpecVersion:
		return textOf(event.CloudEventsVersionV1), true
	case kindID:
		return textOf(c.ID), true
	case kindSource:
		return urlText(&c.Source.URL), true
	case kindType:
		return textOf(c.Type), true
	case kindSubject:
		return stringPtrText(c.Subject)
	case kindDataContentType:
		return stringPtrText(c.DataContentType)
	case kindDataSchema:
		if c.DataSchema == nil {
			return text{}, false
		}
		return urlText(&c.DataSchema.URL), true
	case kindTime:
		if c.Time == nil {
			return text{}, false
		}
		return timeText(c.Time.Time, buf), true
	}
	return valueText(c.Extensions[a.name], buf)
}

func (a attribute) lookupV03(c *event.EventContextV03, buf []byte) (text, bool) {
	switch a.kind {
	case kindSpecVersion:
		return textOf(event.CloudEventsVersionV03), true
	case kindID:
		return textOf(c.ID), true
	case kindSource:
		return urlText(&c.Source.URL), true
	case kindType:
		return textOf(c.Type), true
	case kindSubject:
		return stringPtrText(c.Subject)
	case kindDataContentType:
		return stringPtrText(c.DataContentType)
	case kindDataSchema:
		if c.SchemaURL == nil {
			return text{}, false
		}
		return urlText(&c.SchemaURL.URL), true
	case kindTime:
		if c.Time == nil {
			return text{}, false
		}
		return timeText(c.Time.Time, buf), true
	}
	return valueText(c.Extensions[a.name], buf)
}

// lookupReader serves contexts other than the SDK's own, through the
// getters every EventContext has.
func (a attribute) lookupReader(c event.EventContextReader, buf []byte) (text, bool) {
	switch a.kind {
	case kindSpecVersion:
		return textOf(c.GetSpecVersion()), true
	case kindID:
		return textOf(c.GetID()), true
	case kindSource:
		return textOf(c.GetSource()), true
	case kindType:
		return textOf(c.GetType()), true
	case kindSubject:
		return textOf(c.GetSubject()), true
	case kindDataContentType:
		return textOf(c.GetDataContentType()), true
	case kindDataSchema:
		return textOf(c.GetDataSchema()), true
	case kindTime:
		t := c.GetTime()
		if t.IsZero() {
			return text{}, false
		}
		return timeText(t, buf), true
	}
	v, err := c.GetExtension(a.name)
	if err != nil {
		return text{}, false
	}
	return valueText(v, buf)
}

func stringPtrText(s *string) (text, bool) {
	if s == nil {
		return text{}, false
	}
	return textOf(*s), true
}

// valueText gives an extension's string form as types.Format would. The SDK
// stores extensions as one of its canonical types; others go through
// types.Format, which allocates.
func valueText(v any, buf []byte) (text, bool) {
	switch v := v.(type) {
	case nil:
		return text{}, false
	case string:
		return textOf(v), true
	case bool:
		return textOf(types.FormatBool(v)), true
	case int32:
		return text{raw: strconv.AppendInt(buf, int64(v), 10), isRaw: true}, true
	case types.URIRef:
		return urlText(&v.URL), true
	case types.URI:
		return urlText(&v.URL), true
	case types.Timestamp:
		return timeText(v.Time, buf), true
	}
	s, err := types.Format(v)
	if err != nil {
		return text{}, false
	}
	return textOf(s), true
}

// timeText formats t as types.FormatTime does.
func timeText(t time.Time, buf []byte) text {
	return text{raw: t.UTC().AppendFormat(buf, time.RFC3339Nano), isRaw: true}
}

// urlText gives u.String() without building it for the URIs events carry
// most: absolute ones of scheme, host and path, and relative paths, whose
// characters need no escaping. Any other URI is left to u.String().
func urlText(u *url.URL) text {
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		u.RawPath != "" || !plain(u.Path, pathChars) {
		return textOf(u.String())
	}
	switch {
	case u.Scheme != "" && u.Host != "":
		if (u.Path != "" && u.Path[0] != '/') || !plain(u.Host, hostChars) {
			break
		}
		return text{parts: [4]string{u.Scheme, "://", u.Host, u.Path}}
	case u.Scheme == "" && u.Host == "":
		// String writes "./" before a first segment holding a colon.
		if segment, _, _ := strings.Cut(u.Path, "/"); strings.Contains(segment, ":") {
			break
		}
		return textOf(u.Path)
	}
	return textOf(u.String())
}

// pathChars and hostChars mark the bytes that url.URL.String writes
// unescaped in a path and in a host: letters, digits and a little
// punctuation. The fuzz test holds them to String.
var (
	pathChars = plainChars("-_.~/:@")
	hostChars = plainChars("-_.~:")
)

func plainChars(punct string) *[256]bool {
	var t [256]bool
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for i := 0; i < len(punct); i++ {
		t[punct[i]] = true
	}
	return &t
}

func plain(s string, chars *[256]bool) bool {
	for i := 0; i < len(s); i++ {
		if !chars[s[i]] {
			return false
		}
	}
	return true
}
