// Command heartbeat is the end-to-end tests' event producer for
// SinkBinding and ContainerSource: it reads the binding contract (K_SINK,
// K_CE_OVERRIDES) and posts an event of type dev.flywheel.heartbeat to the
// sink every PERIOD (a Go duration, 1s by default), its data the count so
// far. Without K_SINK it says so and waits, as a pod created before its
// binding would, until the binding gives it one (and the pod is replaced).
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/sources"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	period := time.Second
	if v := os.Getenv("PERIOD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Fatalf("PERIOD=%q: %v", v, err)
		}
		period = d
	}
	sink, overrides, err := sources.FromEnv()
	if err != nil {
		log.Print(err)
		<-ctx.Done()
		return
	}
	host, _ := os.Hostname()
	sender := sources.NewSender(delivery.New(nil, nil), sources.DefaultSendParams)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for n := 1; ; n++ {
		ev := event.New()
		ev.SetID(host + "-" + strconv.Itoa(n))
		ev.SetSource("/e2e/heartbeat/" + host)
		ev.SetType("dev.flywheel.heartbeat")
		if err := ev.SetData(event.ApplicationJSON, map[string]int{"n": n}); err != nil {
			log.Fatal(err)
		}
		if err := sender.Send(ctx, sink, ev, overrides); err != nil {
			log.Print(err)
		} else {
			fmt.Println("sent", ev.ID(), "to", sink.Redacted())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
