// Package clients opens what the eventing data plane's processes (the
// broker ingress and dispatcher) work with: the Eventing API and NATS
// JetStream, from the --kubeconfig flag and the eventing.NATS*Env
// variables.
package clients

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/jetstream"
)

// Connections are a process's clients of the API server and of NATS.
type Connections struct {
	// Rest is the API server's configuration, for other clients (the
	// watch of config-observability).
	Rest      *rest.Config
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
	return &Connections{Rest: rest, Client: client, NATS: nc, JetStream: js, NATSURL: url}, nil
}

// Close closes the NATS connection.
func (c *Connections) Close() { c.NATS.Close() }

// EnsureNATSPassword returns the password in NATS's Secret, making the
// Secret first, with a random password, when it is missing. The
// controller does at its start; local mode does before its node runs, so
// that NATS and the eventing components need not wait for the controller. Two replicas racing to make it agree
// on whichever was stored.
func EnsureNATSPassword(ctx context.Context, kube kubernetes.Interface, namespace string) (string, error) {
	secrets := kube.CoreV1().Secrets(namespace)
	s, err := secrets.Get(ctx, eventing.NATSSecretName, metav1.GetOptions{})
	if apierrs.IsNotFound(err) {
		var random [24]byte
		if _, err := rand.Read(random[:]); err != nil {
			return "", err
		}
		s, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: namespace,
				Name:      eventing.NATSSecretName,
				Labels:    map[string]string{"app.kubernetes.io/part-of": "flywheel", "app.kubernetes.io/component": "nats"},
			},
			Data: map[string][]byte{eventing.NATSSecretPasswordKey: []byte(natsPassword(random[:]))},
		}, metav1.CreateOptions{})
		if apierrs.IsAlreadyExists(err) {
			s, err = secrets.Get(ctx, eventing.NATSSecretName, metav1.GetOptions{})
		}
	}
	if err != nil {
		return "", fmt.Errorf("NATS's Secret %s/%s: %w", namespace, eventing.NATSSecretName, err)
	}
	password := string(s.Data[eventing.NATSSecretPasswordKey])
	if password == "" {
		return "", fmt.Errorf("NATS's Secret %s/%s has no %q", namespace, eventing.NATSSecretName, eventing.NATSSecretPasswordKey)
	}
	return password, nil
}

// natsPassword makes a password of random bytes that NATS's configuration
// takes as it is: nats.conf reads it from the environment as a value of
// its own syntax, in which one starting with a digit is parsed as a number
// and refused (NATS then exits), and some punctuation ends a value. So:
// a letter first, then hex digits.
func natsPassword(random []byte) string {
	return "fw" + hex.EncodeToString(random)
}
