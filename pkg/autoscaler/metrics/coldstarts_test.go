package metrics

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestColdStartsOverTheLastHour(t *testing.T) {
	c := NewCollector(time.Minute)
	rev := types.NamespacedName{Namespace: "demo", Name: "hello-00001"}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	if got := c.ColdStarts(rev, t0); got != (ColdStarts{}) {
		t.Errorf("a Revision never woken: %+v, want none", got)
	}
	// 90 minutes ago: out of the hour by the time it is read.
	c.RecordColdStarts(rev, t0.Add(-90*time.Minute), []time.Duration{ms(5000)})
	// Twenty in the hour, 210 ms to 400 ms, reported out of order within
	// a report.
	for i := range 10 {
		c.RecordColdStarts(rev, t0.Add(time.Duration(i-50)*time.Minute), []time.Duration{ms(400 - 10*i), ms(210 + 10*i)})
	}
	got := c.ColdStarts(rev, t0)
	// Sorted: 210, 220, …, 300, 310, …, 400. Nearest rank: the 10th is
	// 300 ms, the 19th 390 ms.
	if want := (ColdStarts{Count: 20, P50: ms(300), P95: ms(390)}); got != want {
		t.Errorf("ColdStarts = %+v, want %+v (the one 90 minutes old left out)", got, want)
	}
	// 15.5 minutes on, the reports of 50 to 45 minutes before t0 (six,
	// of two cold starts each) are over an hour old.
	if got := c.ColdStarts(rev, t0.Add(15*time.Minute+30*time.Second)); got.Count != 8 {
		t.Errorf("15.5 minutes later: %d cold starts, want the 8 of the last hour", got.Count)
	}
	c.Forget(rev)
	if got := c.ColdStarts(rev, t0); got.Count != 0 {
		t.Errorf("after Forget: %+v", got)
	}
}

func TestColdStartsKeptAreBounded(t *testing.T) {
	c := NewCollector(time.Minute)
	rev := types.NamespacedName{Namespace: "demo", Name: "busy-00001"}
	many := make([]time.Duration, maxColdStarts+10)
	for i := range many {
		many[i] = time.Duration(i+1) * time.Millisecond
	}
	c.RecordColdStarts(rev, t0, many)
	got := c.ColdStarts(rev, t0)
	if got.Count != maxColdStarts || got.P50 <= 10*time.Millisecond {
		t.Errorf("ColdStarts = %+v, want the newest %d kept", got, maxColdStarts)
	}
}
