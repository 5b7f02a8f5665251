// Command imageinfo answers each request with what its process sees of
// the container it runs in, as JSON: its user and groups, working
// directory, argv, chosen environment variables and which of the paths
// named by ?path= exist. The registry image tests run it from images they
// build, to check from the outside that the image's config and layers
// applied.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
)

// Info is the answer, decoded by the tests.
type Info struct {
	UID    int               `json:"uid"`
	GID    int               `json:"gid"`
	Groups []int             `json:"groups"`
	Dir    string            `json:"dir"`
	Args   []string          `json:"args"`
	Env    map[string]string `json:"env"`
	Exists map[string]bool   `json:"exists"`
	// Written says whether the process could write a file at /written,
	// in its image's root filesystem.
	Written bool `json:"written"`
}

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		dir, _ := os.Getwd()
		groups, _ := os.Getgroups()
		info := Info{
			UID: os.Getuid(), GID: os.Getgid(), Groups: groups, Dir: dir, Args: os.Args,
			Env: map[string]string{}, Exists: map[string]bool{},
		}
		for _, k := range r.URL.Query()["env"] {
			info.Env[k] = os.Getenv(k)
		}
		for _, p := range r.URL.Query()["path"] {
			_, err := os.Lstat(p)
			info.Exists[p] = err == nil
		}
		info.Written = os.WriteFile("/written", []byte("x"), 0o644) == nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
