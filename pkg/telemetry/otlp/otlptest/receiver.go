// Package otlptest is an OTLP/HTTP receiver for tests of the exporters:
// it decodes what it takes with the generated messages (which the
// exporters themselves do not link) and can answer with other statuses
// first.
package otlptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
)

// Receiver keeps every request of message type T it takes.
type Receiver[T any, PT interface {
	*T
	proto.Message
}] struct {
	*httptest.Server
	mu      sync.Mutex
	taken   []PT
	answers []int
}

// NewReceiver starts a Receiver, stopped when the test ends. A request
// it cannot decode, or one not sent as protobuf, fails the test.
func NewReceiver[T any, PT interface {
	*T
	proto.Message
}](t testing.TB) *Receiver[T, PT] {
	t.Helper()
	r := &Receiver[T, PT]{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.answers) > 0 {
			code := r.answers[0]
			r.answers = r.answers[1:]
			w.WriteHeader(code)
			return
		}
		msg := PT(new(T))
		if err := proto.Unmarshal(body, msg); err != nil {
			t.Errorf("a request the receiver cannot read: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			t.Errorf("Content-Type %q, want application/x-protobuf", ct)
		}
		r.taken = append(r.taken, msg)
	}))
	t.Cleanup(r.Close)
	return r
}

// AnswerNext makes the next requests' answers these statuses, in turn,
// without taking them; then 200 again.
func (r *Receiver[T, PT]) AnswerNext(codes ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, codes...)
}

// Taken is every request taken so far.
func (r *Receiver[T, PT]) Taken() []PT {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PT(nil), r.taken...)
}
