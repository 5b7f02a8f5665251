package stats

import (
	"net/http"
	"strings"

	"flywheel.dev/pkg/queue"
)

// KindOf tells a probe from a proxied request: network probes of the
// activator and gateway (NetworkProbeHeader) and the kubelet's probes
// (KubeletProbeUserAgentPrefix) keep arriving at an idle pod and must not
// keep it from scaling down. Of the proxied requests, those the activator
// forwarded (ViaActivatorHeader) are told apart, as the activator reports
// them itself.
func KindOf(r *http.Request) Kind {
	switch {
	case r.Header.Get(queue.NetworkProbeHeader) == queue.NetworkProbeValue ||
		strings.HasPrefix(r.Header.Get("User-Agent"), queue.KubeletProbeUserAgentPrefix):
		return Probe
	case r.Header.Get(queue.ViaActivatorHeader) == queue.ViaActivatorValue:
		return ProxiedViaActivator
	}
	return Proxied
}

// Handler records every request on t while next serves it. A nil t
// measures nothing and returns next itself.
func Handler(next http.Handler, t *Tracker) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := KindOf(r)
		t.In(k)
		// Deferred, so that a handler aborting with a panic (as a proxy
		// does when the app breaks off a response) still leaves.
		defer t.Out(k)
		next.ServeHTTP(w, r)
	})
}
