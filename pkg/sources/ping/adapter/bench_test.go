package adapter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/sources"
)

// BenchmarkAThousandSourcesTick measures one minute's tick of a thousand
// every-minute PingSources, sent through the adapter's Sender to a local
// HTTP sink: each op is one tick, from the clock reaching the minute to
// the sink holding the thousandth event. Its time bounds how late the
// last event of a tick leaves on an idle machine, and its CPU time is the
// adapter's cost per minute.
func BenchmarkAThousandSourcesTick(b *testing.B) {
	const n = 1000
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()

	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	s := NewScheduler(clk, sources.NewSender(delivery.New(nil, nil), sources.DefaultSendParams), DefaultMaxLateness, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	for i := range n {
		src := newSource(fmt.Sprintf("source-%04d", i), WithData("application/json", `{"message":"tick"}`))
		src.Status.SinkURI = apis.HTTP(sink.Listener.Addr().String())
		if err := s.Upsert(src); err != nil {
			b.Fatal(err)
		}
	}
	s.Lead(clk.Now(), clk.Now().Add(24*365*time.Hour))

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := int64(i+1) * n
		clk.Step(time.Minute)
		for received.Load() < want {
			// A Step between the loop's reading of the clock and its
			// setting of a timer leaves the timer late: look again.
			s.wakeUp()
			time.Sleep(100 * time.Microsecond)
		}
	}
}
