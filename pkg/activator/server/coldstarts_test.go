package server

import (
	"slices"
	"testing"
	"time"
)

func TestColdStartsCountEachWakeOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var c coldStarts
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Three requests wait through one start: the first answered, at
	// 300 ms, times it.
	c.ended(ms(0), ms(300))
	c.ended(ms(50), ms(301))
	c.ended(ms(120), ms(302))
	// A second wake, after the first ended.
	c.ended(ms(5000), ms(5250))
	if got, want := c.take(), []time.Duration{300 * time.Millisecond, 250 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("take() = %v, want %v", got, want)
	}
	if got := c.take(); len(got) != 0 {
		t.Errorf("take() again = %v, want nothing: they were reported", got)
	}
}
