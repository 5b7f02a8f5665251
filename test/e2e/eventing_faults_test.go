//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/eventing"
)

// Bounds of the fault test: faultEvents sent at faultRate, each retried
// by its sender up to faultSendAttempts times until answered 202.
const (
	faultEvents       = 10000
	faultRate         = 250 // events per second
	faultSenders      = 16
	faultSendAttempts = 30
)

// TestBrokerKeepsEventsThroughFaults sends 10,000 events at a steady rate
// to a Broker with one Trigger while NATS, then the dispatcher, then the
// ingress are killed (SIGKILL; the node restarts each in its pod). Every
// event answered 202 must reach the subscriber at least once (counted by
// id); duplicates are counted and reported; every answer but 202 must be
// one a sender retries on (5xx, 429, or no answer at all), never a 4xx
// that would make it give up.
func TestBrokerKeepsEventsThroughFaults(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "faults")
	rec := createRecorder(t, client, ns, "recorder", map[string]string{serving.MinScaleAnnotation.String(): "1"})
	createBroker(t, client, ns, "default", nil)
	tr := trigger(ns, "all", "default", nil, duckv1.Destination{
		Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "recorder"},
		URI: &apis.URL{Path: "/faults"},
	}, &eventingv1.DeliverySpec{Retry: ptr.Int32(10), BackoffDelay: ptr.String("PT0.1S")})
	if _, err := client.EventingV1().Triggers(ns).Create(t.Context(), tr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTriggerReady(t, client, ns, "all")

	faults := []struct {
		at                  int
		what                string
		selector, container string
	}{
		{faultEvents * 2 / 10, "NATS", "app.kubernetes.io/name=flywheel-nats", "nats"},
		{faultEvents * 5 / 10, "the dispatcher", "app.kubernetes.io/name=" + eventing.DispatcherDeploymentName, "dispatcher"},
		{faultEvents * 8 / 10, "the ingress", "app.kubernetes.io/name=" + eventing.IngressDeploymentName, "ingress"},
	}
	ingress := onePod(t, "flywheel-system", "app.kubernetes.io/name="+eventing.IngressDeploymentName)
	target := fmt.Sprintf("http://%s:%d/%s/default", ingress.Status.PodIP, eventing.IngressPort, ns)

	s := &faultSender{target: target, answers: map[string]int{}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var killed sync.WaitGroup
	killed.Add(1)
	go func() {
		defer killed.Done()
		for _, f := range faults {
			for s.sent.Load() < int64(f.at) {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			killContainer(t, "flywheel-system", f.selector, f.container)
			t.Logf("killed %s after %d events (%v)", f.what, f.at, time.Since(start).Round(time.Millisecond))
		}
	}()
	s.run(ctx)
	killed.Wait()
	t.Logf("sent %d events in %v: %d accepted, %d given up; answers before a 202: %v",
		faultEvents, time.Since(start).Round(time.Millisecond), len(s.accepted()), s.gaveUp.Load(), s.answerSummary())
	for _, f := range faults {
		waitContainerRestarted(t, "flywheel-system", f.selector, f.container)
	}
	if n := s.gaveUp.Load(); n > 0 {
		t.Errorf("%d events were never answered 202 in %d attempts", n, faultSendAttempts)
	}
	for answer := range s.answers {
		if !retryable(answer) {
			t.Errorf("a sender was answered %q, which it would not retry", answer)
		}
	}

	accepted := s.accepted()
	var got []record
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		rs, err := fetchRecords(ctx, rec, "/faults")
		if err != nil {
			return false, nil
		}
		got = rs
		seen := map[string]bool{}
		for _, r := range rs {
			seen[r.ID] = true
		}
		missing = missing[:0]
		for id := range accepted {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		sort.Strings(missing)
		t.Fatalf("%d of %d accepted events never reached the subscriber (first: %v)\nlogs in %s", len(missing), len(accepted), missing[:min(10, len(missing))], workDir)
	}
	duplicates := len(got) - len(accepted)
	t.Logf("every accepted event delivered: %d deliveries for %d events, %d duplicates (%.2f%%), %v after the first was sent",
		len(got), len(accepted), duplicates, 100*float64(duplicates)/float64(len(accepted)), time.Since(start).Round(time.Millisecond))
}

// faultSender posts events at a steady rate, each until it is answered
// 202, and counts every other answer by kind.
type faultSender struct {
	target string
	sent   atomic.Int64
	gaveUp atomic.Int64

	mu      sync.Mutex
	ok      []string
	answers map[string]int
}

func (s *faultSender) run(ctx context.Context) {
	ids := make(chan string)
	var workers sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range faultSenders {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for id := range ids {
				s.send(ctx, client, id)
			}
		}()
	}
	tick := time.NewTicker(time.Second / faultRate)
	defer tick.Stop()
	for i := range faultEvents {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
		ids <- fmt.Sprintf("fault-%05d", i)
		s.sent.Add(1)
	}
	close(ids)
	workers.Wait()
}

// send posts one event until it is answered 202, backing off on anything
// else, as a producer should.
func (s *faultSender) send(ctx context.Context, client *http.Client, id string) {
	backoff := 50 * time.Millisecond
	for range faultSendAttempts {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.target, bytes.NewReader([]byte(`{"n":"`+id+`"}`)))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", id)
		req.Header.Set("Ce-Source", "/e2e/faults")
		req.Header.Set("Ce-Type", "com.example.fault")
		resp, err := client.Do(req)
		answer := ""
		if err != nil {
			answer = "no answer: " + errorKind(err)
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				s.mu.Lock()
				s.ok = append(s.ok, id)
				s.mu.Unlock()
				return
			}
			answer = resp.Status
		}
		s.mu.Lock()
		s.answers[answer]++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	s.gaveUp.Add(1)
}

func (s *faultSender) accepted() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]bool, len(s.ok))
	for _, id := range s.ok {
		m[id] = true
	}
	return m
}

func (s *faultSender) answerSummary() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for k, v := range s.answers {
		m[k] = v
	}
	return m
}

// retryable says whether a sender retries after this answer: none at all,
// a 5xx, 429 or 408.
func retryable(answer string) bool {
	return strings.HasPrefix(answer, "no answer") || strings.HasPrefix(answer, "5") ||
		strings.HasPrefix(answer, "429") || strings.HasPrefix(answer, "408")
}

// errorKind names how a request failed without an answer.
func errorKind(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if kind := failureKind(err); !strings.HasPrefix(kind, "other") {
		return kind
	}
	return "other"
}
