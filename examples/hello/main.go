// Command hello is Flywheel's sample app: it answers every request with a
// greeting naming the revision that served it, so traffic splits can be
// seen from the outside.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	target := os.Getenv("TARGET")
	if target == "" {
		target = "world"
	}
	revision := os.Getenv("K_REVISION")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello %s! (revision %s)\n", target, revision)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
