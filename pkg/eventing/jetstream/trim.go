package jetstream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/types"
)

// TrimPeriod is how often a Broker's stream is trimmed to what its
// Triggers still have to deliver: the events it keeps after every Trigger
// acknowledged them are those of at most this long.
const TrimPeriod = time.Second

// Trim purges a Broker's stream of every event that each of its
// consumers has acknowledged, and, when it has none, of every event: it
// does for the whole stream at once what interest retention does for
// each acknowledgement. Interest retention costs NATS a file per event
// whenever the stream drains between events (each acknowledgement that
// empties the stream deletes its block file and makes a new one), which
// is most of the time at a steady rate; a purge drops whole blocks.
//
// The cut is the lowest acknowledgement floor of the consumers, which
// JetStream keeps per consumer: every event at or below it has been
// acknowledged (or terminated) by that consumer. The stream's last
// sequence is read before the consumers are listed, so a consumer made
// after the listing, which starts after that sequence, loses nothing.
// Trim returns the first sequence the stream keeps, 0 when it purged
// nothing.
func Trim(ctx context.Context, js jetstream.JetStream, broker types.NamespacedName) (uint64, error) {
	s, err := js.Stream(ctx, StreamName(broker))
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", StreamName(broker), err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", StreamName(broker), err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	cut := info.State.LastSeq + 1
	list := s.ListConsumers(ctx)
	for ci := range list.Info() {
		cut = min(cut, ci.AckFloor.Stream+1)
	}
	if err := list.Err(); err != nil {
		return 0, fmt.Errorf("listing the consumers of stream %s: %w", StreamName(broker), err)
	}
	if cut <= info.State.FirstSeq {
		return 0, nil
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(cut)); err != nil {
		return 0, fmt.Errorf("trimming stream %s below %d: %w", StreamName(broker), cut, err)
	}
	return cut, nil
}
