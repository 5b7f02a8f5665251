package node

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// TestRelayWaitsForARestartingTarget holds a client's connection while
// the target refuses, as a container restarting in its pod does, and
// relays it once the target listens again, instead of cutting it.
func TestRelayWaitsForARestartingTarget(t *testing.T) {
	// A port nothing listens on yet: the target, between a crash and the
	// restarted process's listen.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := l.Addr().String()
	_ = l.Close()

	tried := make(chan struct{})
	var once sync.Once
	r := newRelay(slog.New(&onRecord{f: func() { once.Do(func() { close(tried) }) }}))
	t.Cleanup(r.close)
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := front.Addr().String()
	_ = front.Close()
	if err := r.listen(addr, target); err != nil {
		t.Fatal(err)
	}

	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := io.WriteString(client, "hello\n"); err != nil {
		t.Fatal(err)
	}

	// The relay has tried the target (its first attempt is logged, refused
	// or not); then the restarted process listens, and the held
	// connection reaches it.
	select {
	case <-tried:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay never tried the target")
	}
	restarted, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	// Without the wait, the relay has already cut the client: nothing comes.
	_ = restarted.(*net.TCPListener).SetDeadline(time.Now().Add(2 * dialPatience))
	conn, err := restarted.Accept()
	if err != nil {
		t.Fatalf("the client's connection never reached the restarted target: %v", err)
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("the restarted target read %q, %v; want the client's hello", line, err)
	}
}

// onRecord is a slog handler that calls f for every record, debug ones
// included.
type onRecord struct{ f func() }

func (h *onRecord) Enabled(context.Context, slog.Level) bool  { return true }
func (h *onRecord) Handle(context.Context, slog.Record) error { h.f(); return nil }
func (h *onRecord) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h *onRecord) WithGroup(string) slog.Handler             { return h }
