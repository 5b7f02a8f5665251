// Package probe is netprobe's answer, as JSON: what the networking tests
// and benchmark read back from a pod.
package probe

// Result is what each probe answers.
type Result struct {
	// OK says the probe succeeded; Error says why not.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Refused and NotFound classify a failure: the connection was refused
	// (an ICMP or TCP reset), or the name does not exist (NXDOMAIN).
	Refused  bool `json:"refused,omitempty"`
	NotFound bool `json:"notFound,omitempty"`
	// Reply is the echo's answer or the fetched body; Status the HTTP
	// status of a fetch.
	Reply  string `json:"reply,omitempty"`
	Status int    `json:"status,omitempty"`
	// Addrs are the A records found, SRV the SRV records as
	// "target:port".
	Addrs []string `json:"addrs,omitempty"`
	SRV   []string `json:"srv,omitempty"`
	// Millis is how long the probe took.
	Millis float64 `json:"millis"`
	// Load is what a repeated probe (/load, /lookups) measured.
	Load *Load `json:"load,omitempty"`
}

// Load is the figures of a bounded, repeated probe.
type Load struct {
	Count, Errors int
	// P50 and P99 are latencies in milliseconds; PerSecond the rate over
	// the whole run.
	P50, P99, PerSecond float64
	// FirstError says why a probe failed, when one did.
	FirstError string `json:",omitempty"`
}
