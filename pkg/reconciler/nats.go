package reconciler

import (
	"context"
	"fmt"
	"os"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/clients"
	"flywheel.dev/pkg/eventing/jetstream"
)

// withJetStream returns ctx carrying the JetStream Manager of the Broker
// and Trigger reconcilers. Without NATS_URL (eventing not installed) it
// carries none, and Brokers say so in their status. The NATS password is
// the one in the Secret eventing.NATSSecretName, which is made here, with
// a random password, when it is missing: NATS and the eventing components
// wait for it.
func withJetStream(ctx context.Context, cfg *rest.Config, namespace string) (context.Context, error) {
	url := os.Getenv(eventing.NATSURLEnv)
	if url == "" {
		return ctx, nil
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	password, err := clients.EnsureNATSPassword(ctx, kube, namespace)
	if err != nil {
		return nil, err
	}
	nc, err := jetstream.Connect(url, eventing.NATSUser, password, "flywheel-controller")
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, err
	}
	return jetstream.WithManager(ctx, &jetstream.Manager{JS: js}), nil
}
