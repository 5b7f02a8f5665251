package main

import (
	"strings"
	"testing"
	"time"
)

// TestMarkdownJudgesTheGoals reports the cold starts' percentiles and the
// load steps' decision against the goals.
func TestMarkdownJudgesTheGoals(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	r := results{
		Config:     runConfig{StepClients: 50},
		ColdStarts: []time.Duration{ms(400), ms(250), ms(280), ms(900)},
		Steps:      []step{{Decision: ms(1500), Serving: ms(1800), Pods: 8}, {Decision: ms(2500), Serving: ms(2700), Pods: 7}},
	}
	md := r.markdown()
	for _, want := range []string{
		"| 280 ms | 900 ms | 900 ms | p50 ≤ 300ms: **met** |",
		"| the first scale decision | 1500 ms | 2500 ms | ≤ 2s: **missed** |",
		"| a new pod ready | 1800 ms | 2700 ms | |",
		"Pods asked for at most: 8, 7.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
