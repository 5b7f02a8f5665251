package reconciler

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"

	natsjs "github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"flywheel.dev/pkg/eventing"
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
	password, err := ensureNATSPassword(ctx, kube, namespace)
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

// ensureNATSPassword returns the password in NATS's Secret, making the
// Secret first when it is missing. Two replicas racing to make it agree
// on whichever was stored.
func ensureNATSPassword(ctx context.Context, kube kubernetes.Interface, namespace string) (string, error) {
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
			Data: map[string][]byte{eventing.NATSSecretPasswordKey: []byte(base64.RawURLEncoding.EncodeToString(random[:]))},
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
