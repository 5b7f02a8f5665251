// Command podapp is the node benchmark's pod: a small HTTP server that
// prints, in Unix nanoseconds, when its main began and when it listened,
// so that the harness can read from its log how long the node took to
// start it. It answers every request on $PORT (8080) at once.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	began := time.Now()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("main %d\nlistening %d\n", began.UnixNano(), time.Now().UnixNano())
	log.Fatal(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello\n"))
	})))
}
