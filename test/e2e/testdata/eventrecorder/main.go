// Command eventrecorder is the end-to-end tests' event subscriber. It
// records every CloudEvent it receives with the path it came to and the
// attempt it was, and behaves by path:
//
//	/fail/<n>/...    answers 500 to the first n attempts of each event
//	/fail-always/... answers 500 every time
//	/reply/<type>/...answers 200 with a reply event of that type
//	anything else    answers 202
//
// GET /events?path=<path> lists what came to that path (all paths when
// empty) as JSON records.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/binding"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Record is one event received.
type Record struct {
	Path       string            `json:"path"`
	Attempt    int               `json:"attempt"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Source     string            `json:"source"`
	Extensions map[string]string `json:"extensions,omitempty"`
	Data       string            `json:"data,omitempty"`
	Status     int               `json:"status"`
}

type recorder struct {
	mu       sync.Mutex
	records  []Record
	attempts map[string]int // path + id → attempts so far
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/events" {
		rec.list(w, r.URL.Query().Get("path"))
		return
	}
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	rec.mu.Lock()
	key := r.URL.Path + "\x00" + ev.ID()
	rec.attempts[key]++
	attempt := rec.attempts[key]
	status, reply := respond(r.URL.Path, attempt, ev)
	ext := map[string]string{}
	for k, v := range ev.Extensions() {
		ext[k] = fmt.Sprint(v)
	}
	rec.records = append(rec.records, Record{
		Path: r.URL.Path, Attempt: attempt, ID: ev.ID(), Type: ev.Type(), Source: ev.Source(),
		Extensions: ext, Data: string(ev.Data()), Status: status,
	})
	rec.mu.Unlock()
	log.Printf("%s attempt %d of event %s (%s): %d", r.URL.Path, attempt, ev.ID(), ev.Type(), status)

	if reply != nil {
		if err := cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(reply), status, w); err != nil {
			log.Printf("writing the reply: %v", err)
		}
		return
	}
	if status >= 400 {
		http.Error(w, "failing on purpose", status)
		return
	}
	w.WriteHeader(status)
}

// respond is how the path says to answer an attempt.
func respond(path string, attempt int, ev *cloudevents.Event) (int, *cloudevents.Event) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch parts[0] {
	case "fail":
		if len(parts) > 1 {
			if n, err := strconv.Atoi(parts[1]); err == nil && attempt <= n {
				return http.StatusInternalServerError, nil
			}
		}
	case "fail-always":
		return http.StatusInternalServerError, nil
	case "reply":
		if len(parts) > 1 {
			reply := cloudevents.New()
			reply.SetID("reply-" + ev.ID())
			reply.SetSource("/eventrecorder")
			reply.SetType(parts[1])
			_ = reply.SetData("text/plain", []byte("reply to "+ev.ID()))
			return http.StatusOK, &reply
		}
	}
	return http.StatusAccepted, nil
}

func (rec *recorder) list(w http.ResponseWriter, path string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := []Record{}
	for _, r := range rec.records {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, &recorder{attempts: map[string]int{}}))
}
