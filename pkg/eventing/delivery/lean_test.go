package delivery

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLeanClientDeliversAsNetHTTP holds the lean client, which a
// Deliverer made without a client sends to http:// subscribers with, to
// the outcomes of the same deliveries through net/http's client: what
// the subscriber receives, and what the dispatcher is told (result,
// attempts, status, reply, the dead-letter sink's view of the failure).
func TestLeanClientDeliversAsNetHTTP(t *testing.T) {
	if New(nil, nil).lean == nil {
		t.Skip("the environment names an HTTP proxy: no lean client to compare")
	}
	binaryReply := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "r-1", "Ce-Source": "/reply", "Ce-Type": "t", "Content-Type": "text/plain"}
	for name, script := range map[string][]reply{
		"accepted":                   {{status: 202}},
		"retried after a 503":        {{status: 503, body: "busy"}, {status: 200}},
		"a 400 dead-lettered":        {{status: 400, body: strings.Repeat("e", 2*ErrorDataLimit)}},
		"a status past 599":          {{status: 600}},
		"a binary reply":             {{status: 200, header: binaryReply, body: "hello"}},
		"a reply past the limit":     {{status: 200, header: map[string]string{"Content-Type": "application/cloudevents+json"}, body: strings.Repeat(" ", ReplyLimit+1)}},
		"a plain 200 with a payload": {{status: 200, header: map[string]string{"Content-Type": "text/plain"}, body: strings.Repeat("x", 100<<10)}},
	} {
		t.Run(name, func(t *testing.T) {
			type seen struct {
				Outcome      summary
				Received     []string
				DeadLettered []string
			}
			got := map[string]seen{}
			for _, via := range []string{"lean", "net/http"} {
				sub, dls := newSink(t, script...), newSink(t)
				d := New(nil, newStepClock())
				if via == "net/http" {
					tr := NewTransport()
					t.Cleanup(tr.CloseIdleConnections)
					d = New(&http.Client{Transport: tr}, newStepClock())
				}
				t.Cleanup(d.CloseIdleConnections)
				out := d.Deliver(context.Background(), testEvent(t), sub.url, dls.url, exponential(2, 0), Hooks{})
				s := seen{Outcome: summarize(out)}
				for _, r := range sub.requests() {
					s.Received = append(s.Received, r.method+" "+r.header.Get("Ce-Id")+" "+r.header.Get("Prefer")+" "+r.body)
				}
				for _, r := range dls.requests() {
					s.DeadLettered = append(s.DeadLettered, r.header.Get("Ce-Knativeerrorcode")+" "+r.header.Get("Ce-Knativeerrordata"))
				}
				got[via] = s
			}
			if diff := cmp.Diff(got["net/http"], got["lean"]); diff != "" {
				t.Errorf("the lean client's deliveries differ from net/http's (-net/http, +lean):\n%s", diff)
			}
		})
	}
}
