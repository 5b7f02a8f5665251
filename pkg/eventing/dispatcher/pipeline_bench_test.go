package dispatcher

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/ingress"
	"flywheel.dev/pkg/eventing/jetstream"
	"flywheel.dev/pkg/eventing/jetstream/jetstreamtest"
)

// BenchmarkBrokerPipeline runs a Broker's whole event path in one
// process, to profile it: the ingress's server over HTTP, the real NATS
// server with JetStream on file storage, the dispatcher, and a sink that
// answers 202. Each operation is one event posted and delivered; it
// reports events/s. With -cpuprofile it shows where the CPU goes.
//
//	go test -run '^$' -bench BrokerPipeline -benchtime 20000x -cpuprofile cpu.out ./pkg/eventing/dispatcher/
func BenchmarkBrokerPipeline(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := jetstreamtest.Run(b)
	nc, err := jetstream.Connect(srv.URL(), jetstreamtest.User, jetstreamtest.Password, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "bench", Name: "default"}
	var delivered atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	subscriber, _ := apis.ParseURL(sink.URL)
	trigger := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "t", UID: "bench-trigger", Generation: 1},
		Spec: eventingv1.TriggerSpec{
			Broker: key.Name,
			Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "com.example.bench"}},
		},
		Status: eventingv1.TriggerStatus{SubscriberURI: subscriber},
	}
	broker := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Generation: 1}}
	triggers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	brokers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := triggers.Add(trigger); err != nil {
		b.Fatal(err)
	}
	if err := brokers.Add(broker); err != nil {
		b.Fatal(err)
	}
	if err := jetstream.EnsureStream(ctx, js, key); err != nil {
		b.Fatal(err)
	}
	if _, err := jetstream.EnsureConsumer(ctx, js, key, jetstream.ConsumerConfig(trigger)); err != nil {
		b.Fatal(err)
	}
	d := New(js, delivery.New(nil, nil), listers.NewTriggerLister(triggers), listers.NewBrokerLister(brokers), slog.New(slog.DiscardHandler))
	defer d.Stop()
	if err := d.Sync(ctx, types.NamespacedName{Namespace: key.Namespace, Name: "t"}); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	in := ingress.NewServer(ingress.NewHandler(ingress.BrokersFunc(func(types.NamespacedName) bool { return true }), jetstream.NewPublisher(js), ingress.Options{}), nil)
	go func() { _ = in.Serve(ln) }()
	defer func() { _ = in.Shutdown(context.Background()) }()
	target := "http://" + ln.Addr().String() + "/" + key.Namespace + "/" + key.Name
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	data := bytes.Repeat([]byte("x"), 256)
	var seq atomic.Int64

	b.ResetTimer()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(data))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("Ce-Specversion", "1.0")
			req.Header.Set("Ce-Id", strconv.FormatInt(seq.Add(1), 10))
			req.Header.Set("Ce-Source", "/bench")
			req.Header.Set("Ce-Type", "com.example.bench")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("the ingress answered %d", resp.StatusCode)
				return
			}
		}
	})
	deadline := time.Now().Add(time.Minute)
	for delivered.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if got := delivered.Load(); got < int64(b.N) {
		b.Fatalf("%d of %d events delivered", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
