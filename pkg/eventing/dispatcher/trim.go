package dispatcher

import (
	"context"
	"errors"
	"log/slog"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/jetstream"
)

// TrimStreams trims the stream of every Broker in brokers every period
// until ctx ends (jetstream.Trim). Every dispatcher replica trims: a trim
// cuts only what every consumer has acknowledged, so two at once cut the
// same, and there is no leader to lose. While NATS is unreachable, it
// waits for the next period.
func TrimStreams(ctx context.Context, js natsjs.JetStream, brokers listers.BrokerLister, period time.Duration, log *slog.Logger) {
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if !js.Conn().IsConnected() {
			continue
		}
		all, err := brokers.List(labels.Everything())
		if err != nil {
			log.Warn("listing the Brokers to trim their streams", "error", err)
			continue
		}
		for _, b := range all {
			key := types.NamespacedName{Namespace: b.Namespace, Name: b.Name}
			_, err := jetstream.Trim(ctx, js, key)
			// A Broker's stream is made by its reconciler, or again by
			// the ingress: one not there yet holds nothing to trim.
			if err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) && ctx.Err() == nil {
				log.Warn("trimming a Broker's stream", "broker", key.String(), "error", err)
			}
		}
	}
}
