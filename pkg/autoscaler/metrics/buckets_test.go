package metrics

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestBucketsAverage(t *testing.T) {
	b := NewBuckets(60 * time.Second)
	if _, ok := b.Average(sec(10), 6*time.Second); ok {
		t.Error("an empty Buckets has an average")
	}
	// Two pods report the second that ends at 1.3 s (its middle is in
	// second 0) and at 1.9 s (middle in second 1).
	b.Record(sec(1.3), 1, 4)
	b.Record(sec(1.9), 1, 6)
	// One report covering the two seconds that end at 3.2 s, 2 on
	// average: seconds 1 and 2.
	b.Record(sec(3.2), 2, 2)

	tests := []struct {
		name   string
		now    float64
		window time.Duration
		want   float64
	}{
		{"the latest complete second", 3.5, time.Second, 2},
		{"a window reaching back past the first record counts from it", 3.5, 60 * time.Second, (4 + 6 + 2 + 2) / 3.0},
		{"seconds with nothing recorded count as idle", 6.5, 6 * time.Second, (4 + 6 + 2 + 2) / 6.0},
	}
	for _, tc := range tests {
		got, ok := b.Average(sec(tc.now), tc.window)
		if !ok || got != tc.want {
			t.Errorf("%s: Average = %v, %t; want %v", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := b.Average(sec(30), 6*time.Second); ok {
		t.Error("a window with no record has an average")
	}
}

func TestBucketsForgetBeyondRetention(t *testing.T) {
	b := NewBuckets(10 * time.Second)
	b.Record(sec(1), 1, 100)
	b.Record(sec(12), 1, 1)
	// Second 0 and second 11 share a ring slot; the old one is gone.
	got, ok := b.Average(sec(12), 10*time.Second)
	if !ok || got != 0.1 {
		t.Errorf("Average = %v, %t; want 0.1 (only second 11's 1 over 10 seconds)", got, ok)
	}
}

// TestBucketsGrowForALongerWindow: the ring holds a minute until a
// longer window is read; then it grows, keeping the minute it holds, and
// the seconds it never kept count as not recorded rather than idle.
func TestBucketsGrowForALongerWindow(t *testing.T) {
	b := NewBuckets(time.Hour)
	if len(b.sums) != initialSeconds {
		t.Fatalf("a new Buckets holds %d seconds, want %d", len(b.sums), initialSeconds)
	}
	// 10 a second for seconds 0 to 99; the ring holds 40 to 99.
	for s := 1; s <= 100; s++ {
		b.Record(sec(float64(s)), 1, 10)
	}
	if got, ok := b.Average(sec(100.5), 60*time.Second); !ok || got != 10 {
		t.Errorf("over a minute: %v, %t; want 10", got, ok)
	}
	// Seconds 0 to 39 are gone: the 2-minute window counts from 40, not
	// as 40 idle seconds.
	if got, ok := b.Average(sec(100.5), 2*time.Minute); !ok || got != 10 {
		t.Errorf("over two minutes, just grown: %v, %t; want 10, the kept minute's", got, ok)
	}
	if len(b.sums) != 120 {
		t.Errorf("after a 2-minute window the ring holds %d seconds, want 120", len(b.sums))
	}
	// From here it keeps two minutes: seconds 100 to 219, at 1.
	for s := 101; s <= 220; s++ {
		b.Record(sec(float64(s)), 1, 1)
	}
	if got, ok := b.Average(sec(220.5), 2*time.Minute); !ok || got != 1 {
		t.Errorf("over two minutes, filled: %v, %t; want 1", got, ok)
	}
	// No window beyond the most it may keep.
	b.Average(sec(220.5), 2*time.Hour)
	if len(b.sums) != 3600 {
		t.Errorf("after a 2-hour window the ring holds %d seconds, want the most, 3600", len(b.sums))
	}
}

func TestSampleSize(t *testing.T) {
	for pods, want := range map[int]int{0: 0, 1: 1, 3: 3, 10: 10, 100: 50, 1000: 88} {
		if got := SampleSize(pods); got != want {
			t.Errorf("SampleSize(%d) = %d, want %d", pods, got, want)
		}
	}
}
