package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natsjs "github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/dispatcher"
	"flywheel.dev/pkg/eventing/ingress"
	"flywheel.dev/pkg/eventing/jetstream"
	"flywheel.dev/test/eventload"
)

// The Broker, and the credentials NATS takes.
var broker = types.NamespacedName{Namespace: "bench", Name: "default"}

const (
	natsUser     = "bench"
	natsPassword = "bench-password"
	// eventType is every event's type, which the Trigger's filter takes.
	eventType = "com.example.bench"
)

func runNATS(ctx context.Context, addr, store string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	s, err := natsserver.NewServer(&natsserver.Options{Host: host, Port: p, JetStream: true, StoreDir: store,
		Username: natsUser, Password: natsPassword, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("NATS did not get ready in 10 s")
	}
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

func connect(ctx context.Context, addr, name string) (natsjs.JetStream, error) {
	nc, err := jetstream.Connect("nats://"+addr, natsUser, natsPassword, name)
	if err != nil {
		return nil, err
	}
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, err
	}
	return js, jetstream.EnsureStream(ctx, js, broker)
}

func runIngress(ctx context.Context, natsAddr, addr string) error {
	js, err := connect(ctx, natsAddr, "ingress")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	h := ingress.NewHandler(ingress.BrokersFunc(func(b types.NamespacedName) bool { return b == broker }), jetstream.NewPublisher(js), ingress.Options{})
	srv := ingress.NewServer(h, nil)
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	return srv.Serve(ln)
}

func runDispatcher(ctx context.Context, natsAddr, sink string) error {
	js, err := connect(ctx, natsAddr, "dispatcher")
	if err != nil {
		return err
	}
	subscriber, err := apis.ParseURL(sink)
	if err != nil {
		return err
	}
	trigger := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: broker.Namespace, Name: "t", UID: "bench-trigger", Generation: 1},
		Spec: eventingv1.TriggerSpec{
			Broker: broker.Name,
			Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": eventType}},
		},
		Status: eventingv1.TriggerStatus{SubscriberURI: subscriber},
	}
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: broker.Namespace, Name: broker.Name, Generation: 1}}
	triggers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	brokers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := triggers.Add(trigger); err != nil {
		return err
	}
	if err := brokers.Add(b); err != nil {
		return err
	}
	if _, err := jetstream.EnsureConsumer(ctx, js, broker, jetstream.ConsumerConfig(trigger)); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	d := dispatcher.New(js, delivery.New(nil, nil), listers.NewTriggerLister(triggers), listers.NewBrokerLister(brokers), log)
	if err := d.Sync(ctx, types.NamespacedName{Namespace: broker.Namespace, Name: trigger.Name}); err != nil {
		return err
	}
	go dispatcher.TrimStreams(ctx, js, listers.NewBrokerLister(brokers), jetstream.TrimPeriod, log)
	<-ctx.Done()
	d.Stop()
	return nil
}

// send posts events as the e2e BenchmarkBroker does (package
// eventload) and prints how many were accepted.
func send(addr string, rate int, d time.Duration) error {
	run := time.Now().UnixNano()
	r := eventload.Send(eventload.Load{
		Target: "http://" + addr + "/" + broker.Namespace + "/" + broker.Name,
		Rate:   rate, Duration: d,
		ID:     func(i int) string { return fmt.Sprintf("%d-%d", run, i) },
		Source: "/bench", Type: eventType,
	})
	fmt.Printf("accepted %d failed %d\n", r.Accepted, r.Failed)
	return nil
}
