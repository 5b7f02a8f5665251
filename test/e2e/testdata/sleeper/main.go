// Command sleeper answers each request after SLEEP (default 50ms), naming
// the revision that served it: an app whose requests take long enough for
// concurrency to build up under load, as the autoscaling tests need. With
// BURN it first keeps a CPU busy that long, for the tests of scaling on
// CPU; with HOLD (MiB) it holds that much memory from the start, for those
// of scaling on memory; with SPIN (a number of goroutines) it keeps that
// many CPUs busy from the start, for a steady load a CPU limit bounds.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

// held is what HOLD asks for, kept reachable for the process's life.
var held []byte

func main() {
	sleep := 50 * time.Millisecond
	if s := os.Getenv("SLEEP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			log.Fatalf("SLEEP=%q: %v", s, err)
		}
		sleep = d
	}
	var burn time.Duration
	if s := os.Getenv("BURN"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			log.Fatalf("BURN=%q: %v", s, err)
		}
		burn = d
	}
	if s := os.Getenv("HOLD"); s != "" {
		mib, err := strconv.Atoi(s)
		if err != nil {
			log.Fatalf("HOLD=%q: %v", s, err)
		}
		held = make([]byte, mib<<20)
		// Written, so that the pages are resident, not only reserved.
		for i := range held {
			held[i] = 1
		}
	}
	if s := os.Getenv("SPIN"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatalf("SPIN=%q: %v", s, err)
		}
		for range n {
			go func() {
				for {
				}
			}()
		}
	}
	revision := os.Getenv("K_REVISION")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		for start := time.Now(); time.Since(start) < burn; {
		}
		time.Sleep(sleep)
		fmt.Fprintf(w, "slept %v (revision %s)\n", sleep, revision)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
