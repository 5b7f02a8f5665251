// Command eventsink is the eventing benchmark's subscriber: it answers
// every event 202 at once and records how long it took to arrive, from
// the send time the sender put in the ce-senttime header (Unix
// nanoseconds; sender and sink share the machine's clock), or else from
// the event's time attribute (a PingSource's tick: when it was due). GET /stats
// gives the count and latency percentiles in microseconds; ?reset=1
// starts over.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"flywheel.dev/test/eventload"
)

type sink struct {
	mu        sync.Mutex
	latencies []time.Duration
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		s.stats(w, r.URL.Query().Get("reset") == "1")
		return
	}
	now := time.Now()
	var from time.Time
	if sent, err := strconv.ParseInt(r.Header.Get("Ce-"+eventload.SentTimeExtension), 10, 64); err == nil {
		from = time.Unix(0, sent)
	} else if t, err := time.Parse(time.RFC3339Nano, r.Header.Get("Ce-Time")); err == nil {
		// A PingSource's tick: its time is when the tick was due.
		from = t
	}
	if !from.IsZero() {
		s.mu.Lock()
		s.latencies = append(s.latencies, now.Sub(from))
		s.mu.Unlock()
	}
	w.WriteHeader(http.StatusAccepted)
}

// Stats are the latencies recorded since the last reset.
type Stats struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50Micros"`
	P90   int64 `json:"p90Micros"`
	P99   int64 `json:"p99Micros"`
	Max   int64 `json:"maxMicros"`
}

func (s *sink) stats(w http.ResponseWriter, reset bool) {
	s.mu.Lock()
	l := slices.Clone(s.latencies)
	if reset {
		s.latencies = s.latencies[:0]
	}
	s.mu.Unlock()
	slices.Sort(l)
	st := Stats{Count: len(l)}
	if len(l) > 0 {
		at := func(q float64) int64 { return l[min(len(l)-1, int(q*float64(len(l))))].Microseconds() }
		st.P50, st.P90, st.P99, st.Max = at(0.50), at(0.90), at(0.99), l[len(l)-1].Microseconds()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	s := &sink{latencies: make([]time.Duration, 0, 1<<20)}
	log.Fatal(http.ListenAndServe(":"+port, s))
}
