package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

func TestDialErrorsAreMarked(t *testing.T) {
	refused := errors.New("connection refused")
	dial := MarkDialErrors(func(context.Context, string, string) (net.Conn, error) { return nil, refused })
	_, err := dial(context.Background(), "tcp", "10.0.0.1:80")
	if !IsDialError(err) || !errors.Is(err, refused) {
		t.Errorf("dial error %v: want it marked and wrapping %v", err, refused)
	}
	if !IsDialError(fmt.Errorf("round trip: %w", err)) {
		t.Error("a wrapped DialError is not recognised")
	}
	if IsDialError(refused) {
		t.Error("an error from after connecting counts as a dial error")
	}
}

func TestBodyIsRetryableUntilRead(t *testing.T) {
	if !GuardBody(nil).Retryable() {
		t.Error("no body: want retryable")
	}
	b := GuardBody(io.NopCloser(strings.NewReader("payload")))
	if !b.Retryable() {
		t.Error("unread body: want retryable")
	}
	if err := b.Close(); err != nil || !b.Retryable() {
		t.Errorf("Close = %v and retryable %t: want it to do nothing", err, b.Retryable())
	}
	if _, err := b.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if b.Retryable() {
		t.Error("a body partly read is still retryable")
	}
}

func TestBufferPoolLendsBuffersOfItsSize(t *testing.T) {
	p := NewBufferPool(1024)
	b := p.Get()
	if len(b) != 1024 {
		t.Fatalf("len = %d, want 1024", len(b))
	}
	p.Put(b)
	if got := len(p.Get()); got != 1024 {
		t.Errorf("len after Put = %d, want 1024", got)
	}
}
