// Package jetstreamtest runs the real NATS server, with JetStream on file
// storage, inside a test process, for the unit tests of the packages that
// speak to it.
package jetstreamtest

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// User and Password are the credentials the server accepts.
const (
	User     = "test"
	Password = "test-password"
)

// Server is a NATS server with JetStream.
type Server struct {
	*server.Server
	opts *server.Options
}

// Run starts a server on a free loopback port with its storage in a
// temporary directory, and stops it when the test ends.
func Run(t testing.TB) *Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		Username:  User,
		Password:  Password,
		NoLog:     true,
		NoSigs:    true,
	}
	s := &Server{opts: opts}
	s.start(t)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	srv, err := server.NewServer(s.opts)
	if err != nil {
		t.Fatalf("NATS server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server did not get ready in 10 s")
	}
	s.Server = srv
	// A restart keeps the port, as a pod's Service address stays.
	s.opts.Port = srv.Addr().(*net.TCPAddr).Port
}

// URL is where clients connect.
func (s *Server) URL() string { return s.ClientURL() }

// Restart stops the server and starts it again on the same port; with
// wipe, its storage is lost in between, as when NATS comes back without
// its volume.
func (s *Server) Restart(t testing.TB, wipe bool) {
	t.Helper()
	s.Shutdown()
	s.WaitForShutdown()
	if wipe {
		if err := os.RemoveAll(s.opts.StoreDir); err != nil {
			t.Fatal(err)
		}
	}
	s.start(t)
}
