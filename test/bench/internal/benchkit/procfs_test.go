package benchkit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses must not shift the
	// fields: utime 250 and stime 50 ticks.
	stat := "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 123 1000 200"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 300 * ClockTick; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (short) S 1 2")); err == nil {
		t.Error("parseStatCPU of a truncated line: want an error")
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tqueue\nVmPeak:\t  900000 kB\nVmHWM:\t   16384 kB\nVmRSS:\t   12288 kB\nThreads:\t7\n"
	got, err := parseStatusMemory(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Memory{RSSKiB: 12288, HWMKiB: 16384}, got); diff != "" {
		t.Errorf("parseStatusMemory (-want, +got):\n%s", diff)
	}
}

func TestParseIOSyscalls(t *testing.T) {
	io := "rchar: 100\nwchar: 200\nsyscr: 30\nsyscw: 12\nread_bytes: 0\n"
	got, err := parseIOSyscalls(strings.NewReader(io))
	if err != nil {
		t.Fatal(err)
	}
	if got != 42 {
		t.Errorf("parseIOSyscalls = %d, want 42", got)
	}
}

func TestParseStatBusy(t *testing.T) {
	// user 100, nice 1, system 50, idle 9000, iowait 7, irq 3, softirq 20,
	// steal 5: processes ran for 100+1+50 ticks.
	stat := "cpu  100 1 50 9000 7 3 20 5 0 0\ncpu0 50 0 25 4500 3 1 10 2 0 0\n"
	got, err := parseStatBusy([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 151 * ClockTick; got != want {
		t.Errorf("parseStatBusy = %v, want %v", got, want)
	}
}
