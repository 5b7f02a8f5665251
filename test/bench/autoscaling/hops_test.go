package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestHopTableStepsFromTheHopSeenBefore reports each hop's mean time from
// the request and its step from the latest hop the same cold start saw,
// and says how many cold starts saw it.
func TestHopTableStepsFromTheHopSeenBefore(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	starts := []hopTimes{
		{"activator woke the autoscaler": ms(2), "Deployment scaled to 1": ms(20), "pod Ready": ms(200), firstByteHop: ms(300)},
		// The Deployment's watch event was missed: the pod's step is
		// from the wake.
		{"activator woke the autoscaler": ms(4), "pod Ready": ms(100), firstByteHop: ms(200)},
	}
	table := hopTable(starts)
	for _, want := range []string{
		"| activator woke the autoscaler | activator log | 3 ms | 2 ms | 3 ms | 2 of 2 |",
		"| Deployment scaled to 1 | watch | 20 ms | 20 ms | 18 ms | 1 of 2 |",
		"| pod Ready | watch | 150 ms | 100 ms | 138 ms | 2 of 2 |",
		"| pod bound to the node | watch | | | | 0 of 2 |",
		"| first byte | harness | 250 ms | 200 ms | 100 ms | 2 of 2 |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestFirstLoggedReadsBothJSONForms finds a message in slog's and in
// knative.dev/pkg's zap JSON, at or after a time, with given substrings.
func TestFirstLoggedReadsBothJSONForms(t *testing.T) {
	log := []byte(`{"time":"2026-11-30T04:09:30.100Z","level":"INFO","msg":"poked","revision":"bench/a"}
not JSON: poked bench/a
{"time":"2026-11-30T04:09:31.250Z","level":"INFO","msg":"poked","revision":"bench/b"}
{"time":"2026-11-30T04:09:31.300Z","level":"INFO","msg":"poked","revision":"bench/a"}
{"severity":"INFO","timestamp":"2026-11-30T04:09:31.400Z","message":"scaling","deployment":"bench/a-deployment","to":1}
`)
	since := time.Date(2026, 11, 30, 4, 9, 31, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		msg        string
		substrings []string
		want       time.Time
		found      bool
	}{
		{name: "slog, after since", msg: "poked", substrings: []string{"bench/a"}, want: since.Add(300 * time.Millisecond), found: true},
		{name: "zap", msg: "scaling", substrings: []string{"bench/a-deployment", `"to":1`}, want: since.Add(400 * time.Millisecond), found: true},
		{name: "none", msg: "scaling", substrings: []string{"bench/c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := firstLogged(log, since, tc.msg, tc.substrings...)
			if found != tc.found || !got.Equal(tc.want) {
				t.Errorf("firstLogged = %v, %t; want %v, %t", got, found, tc.want, tc.found)
			}
		})
	}
}

// TestFirstNodeLoggedReadsTheTextForm finds the node's line for one pod
// and, when asked, one container.
func TestFirstNodeLoggedReadsTheTextForm(t *testing.T) {
	log := []byte(`time=2026-11-30T04:09:31.198Z level=INFO msg="pod started" pod=bench/other-x ip=10.244.0.10
time=2026-11-30T04:09:31.205Z level=INFO msg="pod started" pod=bench/cold-x ip=10.244.0.11 netns=/var/run/netns/fwpod-1
time=2026-11-30T04:09:31.230Z level=INFO msg="container started" pod=bench/cold-x container=user-container pid=7
time=2026-11-30T04:09:31.240Z level=INFO msg="container started" pod=bench/cold-x container=queue-proxy pid=8
`)
	since := time.Date(2026, 11, 30, 4, 9, 31, 0, time.UTC)
	for _, tc := range []struct {
		msg, container string
		want           time.Time
	}{
		{msg: "pod started", want: since.Add(205 * time.Millisecond)},
		{msg: "container started", container: "queue-proxy", want: since.Add(240 * time.Millisecond)},
	} {
		t.Run(tc.msg+" "+tc.container, func(t *testing.T) {
			got, ok := firstNodeLogged(log, since, tc.msg, "bench/cold-x", tc.container)
			if diff := cmp.Diff(tc.want, got); !ok || diff != "" {
				t.Errorf("firstNodeLogged (-want, +got), found %t:\n%s", ok, diff)
			}
		})
	}
}
