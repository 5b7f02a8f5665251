package adapter

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources/ping"
)

// eventOf is the event src sends at every tick, but for the id and time,
// which tickEvent sets: type and source as Knative's PingSource sends
// them, and the source's data with its content type. The overrides are
// applied by the Sender.
func eventOf(src *sourcesv1.PingSource) (event.Event, error) {
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetType(ping.EventType)
	ev.SetSource(ping.EventSource(src.Namespace, src.Name))
	if src.Spec.ContentType != "" {
		ev.SetDataContentType(src.Spec.ContentType)
	}
	data := []byte(src.Spec.Data)
	if src.Spec.DataBase64 != "" {
		decoded, err := base64.StdEncoding.DecodeString(src.Spec.DataBase64)
		if err != nil {
			// The webhook refuses such a source; one stored before it ran
			// still gets here.
			return event.Event{}, fmt.Errorf("spec.dataBase64 is not standard base64: %w", err)
		}
		data = decoded
	}
	if len(data) > 0 {
		// The bytes as they are: SetData would encode them again for the
		// content type (a JSON string of the JSON text).
		ev.DataEncoded = data
	}
	return ev, nil
}

// tickEvent is the event of one tick: the source's event with a fresh id,
// and the tick's scheduled time as its time, whenever it is sent, so that
// a receiver can tell which tick a late event stands for.
func tickEvent(template event.Event, tick time.Time, id string) event.Event {
	ev := template.Clone()
	ev.SetID(id)
	ev.SetTime(tick.UTC())
	return ev
}
