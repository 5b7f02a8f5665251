// Package clients opens what the eventing data plane's processes (the
// broker ingress and dispatcher) work with: the Eventing API and NATS
// JetStream, from the --kubeconfig flag and the eventing.NATS*Env
// variables.
package clients

import (
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/jetstream"
)

// Connections are a process's clients of the API server and of NATS.
type Connections struct {
	Client    versioned.Interface
	NATS      *nats.Conn
	JetStream natsjs.JetStream
	// NATSURL is where NATS was said to be, for logs.
	NATSURL string
}

// Open connects as component (its user agent and NATS connection name)
// to the API server of kubeconfig (empty: the in-cluster configuration)
// and to NATS. The NATS connection keeps reconnecting; Close it.
func Open(kubeconfig, component string) (*Connections, error) {
	url := os.Getenv(eventing.NATSURLEnv)
	if url == "" {
		return nil, fmt.Errorf("%s is not set: give NATS's address, e.g. nats://nats.flywheel-system.svc:4222", eventing.NATSURLEnv)
	}
	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading the API server configuration (--kubeconfig %q): %w", kubeconfig, err)
	}
	rest.UserAgent = component
	client, err := versioned.NewForConfig(rest)
	if err != nil {
		return nil, err
	}
	nc, err := jetstream.Connect(url, os.Getenv(eventing.NATSUserEnv), os.Getenv(eventing.NATSPasswordEnv), component)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := natsjs.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Connections{Client: client, NATS: nc, JetStream: js, NATSURL: url}, nil
}

// Close closes the NATS connection.
func (c *Connections) Close() { c.NATS.Close() }
