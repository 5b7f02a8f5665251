// Command sleeper answers each request after SLEEP (default 50ms), naming
// the revision that served it: an app whose requests take long enough for
// concurrency to build up under load, as the autoscaling tests need.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	sleep := 50 * time.Millisecond
	if s := os.Getenv("SLEEP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			log.Fatalf("SLEEP=%q: %v", s, err)
		}
		sleep = d
	}
	revision := os.Getenv("K_REVISION")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(sleep)
		fmt.Fprintf(w, "slept %v (revision %s)\n", sleep, revision)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
