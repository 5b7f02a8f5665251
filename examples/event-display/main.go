// Command event-display is Flywheel's sample event subscriber: it logs
// every CloudEvent it receives, in binary or structured mode, and lists
// the latest on GET /events, so that `fw local up` can show an event
// arriving.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"sync"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// keep is how many events GET /events lists, the latest last.
const keep = 100

func main() {
	var mu sync.Mutex
	var events []json.RawMessage
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/events" {
			mu.Lock()
			defer mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(events)
			return
		}
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("received event:\n%s", ev)
		b, err := json.Marshal(ev)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		mu.Lock()
		events = append(events, b)
		if len(events) > keep {
			events = events[len(events)-keep:]
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
