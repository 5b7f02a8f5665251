package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8swait "k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"

	"flywheel.dev/config"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/apis/sources"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/commands/event"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/manifest"
)

// The eventing sample's names, as examples/event-display/eventing.yaml
// writes them.
const (
	sampleBroker       = "default"
	sampleTrigger      = "greetings"
	samplePingSource   = "every-minute"
	samplePingTrigger  = "ticks"
	sampleDisplay      = "event-display"
	sampleEventType    = "dev.flywheel.sample.greeting"
	sampleEventsPath   = "/events"
	sampleEventTimeout = time.Minute
)

// runEventingSample applies the eventing sample (a Broker, a Knative
// Service that logs the events it gets, a Trigger to it, a PingSource and
// a Trigger for its ticks), sends one event with fw event send, shows it
// arriving, and says when the first tick will.
func runEventingSample(ctx context.Context, out io.Writer, fw *local.Flywheel, kubeconfig, path string) error {
	objs, err := readManifests(path)
	if err != nil {
		return fmt.Errorf("reading the eventing sample %s: %w", path, err)
	}
	client, err := versioned.NewForConfig(fw.ControlPlane.RESTConfig())
	if err != nil {
		return err
	}
	// A sample kept from an earlier run is left as the user may have
	// changed it; the event below still shows the path works.
	generation := int64(1)
	kept, err := client.ServingV1().Services("default").Get(ctx, sampleDisplay, metav1.GetOptions{})
	switch {
	case err == nil:
		generation = kept.Generation
		fmt.Fprintf(out, "\nThe eventing sample is there from an earlier run (%s); it is not deployed again.\n", path)
	case apierrors.IsNotFound(err):
		fmt.Fprintf(out, "\nEventing: a Broker, the Knative Service %s that logs the events it gets, a Trigger\nsending it the Broker's events of type %s, and a PingSource feeding the Broker (%s)...\n", sampleDisplay, sampleEventType, path)
		if err := manifest.Apply(ctx, fw.ControlPlane.RESTConfig(), objs, manifest.Options{}); err != nil {
			return fmt.Errorf("applying the eventing sample: %w", err)
		}
	default:
		return fmt.Errorf("looking for the eventing sample's Service %s: %w", sampleDisplay, err)
	}
	display, err := waitReady(ctx, fw, client, "default", sampleDisplay, generation)
	if err != nil {
		return err
	}
	if err := waitEventingReady(ctx, fw, client); err != nil {
		return err
	}
	fmt.Fprintf(out, "Broker %s, Triggers %s and %s, and PingSource %s are Ready.\n", sampleBroker, sampleTrigger, samplePingTrigger, samplePingSource)

	args := []string{"--broker", sampleBroker, "--type", sampleEventType, "--data-json", `{"greeting":"Hello from Flywheel"}`}
	fmt.Fprintf(out, "  $ fw event send %s\n", shellQuote(args))
	p := &params.Params{Kubeconfig: kubeconfig, Namespace: "default"}
	send := event.NewEventSendCommand(p)
	send.SetArgs(args)
	send.SetOut(&indentWriter{w: out, prefix: "  "})
	send.SetContext(ctx)
	if err := send.Execute(); err != nil {
		return fmt.Errorf("sending the sample event: %w", err)
	}

	got, err := waitSampleEvent(ctx, fw, display.Status.URL.Host)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "It reached %s, which logged it%s:\n  $ curl -H 'Host: %s' http://%s%s\n%s\n",
		sampleDisplay, logHint(ctx, fw), display.Status.URL.Host, fw.GatewayAddr, sampleEventsPath, indent(got, "  "))
	// A tick is up to a minute away: said, not waited for.
	next := time.Now().Truncate(time.Minute).Add(time.Minute)
	fmt.Fprintf(out, "PingSource %s sends the Broker a %s event at the start of every minute, the next at %s\n(in %.0f s); Trigger %s takes it to %s, whose list above will show it. fw source list lists the sources.\n",
		samplePingSource, sources.PingSourceEventType, next.Format("15:04:05"), time.Until(next).Seconds(), samplePingTrigger, sampleDisplay)
	return nil
}

// logHint says how to read event-display's log, naming its pod.
func logHint(ctx context.Context, fw *local.Flywheel) string {
	pods, err := fw.Kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: serving.ServiceLabel.String() + "=" + sampleDisplay})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	return fmt.Sprintf(" (fw local logs pod/%s -c user-container shows it)", pods.Items[0].Name)
}

// waitEventingReady waits for the sample's Broker, Triggers and
// PingSource.
func waitEventingReady(ctx context.Context, fw *local.Flywheel, client versioned.Interface) error {
	var last string
	err := k8swait.PollUntilContextTimeout(ctx, 200*time.Millisecond, sampleReadyTimeout, true, func(ctx context.Context) (bool, error) {
		b, err := client.EventingV1().Brokers("default").Get(ctx, sampleBroker, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if !b.IsReady() {
			last = "Broker " + sampleBroker + ": " + readyMessage(b.Status.GetCondition(apis.ConditionReady))
			return false, nil
		}
		for _, name := range []string{sampleTrigger, samplePingTrigger} {
			t, err := client.EventingV1().Triggers("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				last = err.Error()
				return false, nil
			}
			if !t.IsReady() {
				last = "Trigger " + name + ": " + readyMessage(t.Status.GetCondition(apis.ConditionReady))
				return false, nil
			}
		}
		ps, err := client.SourcesV1().PingSources("default").Get(ctx, samplePingSource, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if !ps.IsReady() {
			last = "PingSource " + samplePingSource + ": " + readyMessage(ps.Status.GetCondition(apis.ConditionReady))
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("the eventing sample did not become Ready (%s): %w\nlogs: %s (controller.log, node/pods/)", last, err, fw.WorkDir())
	}
	return nil
}

func readyMessage(c *apis.Condition) string {
	if c == nil {
		return "no status yet"
	}
	return strings.TrimSpace(c.Reason + " " + c.Message)
}

// waitSampleEvent polls event-display's list of events through the
// gateway until one of the sample's type is there, and returns it.
func waitSampleEvent(ctx context.Context, fw *local.Flywheel, host string) (string, error) {
	var found string
	err := k8swait.PollUntilContextTimeout(ctx, 200*time.Millisecond, sampleEventTimeout, true, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+fw.GatewayAddr+sampleEventsPath, nil)
		if err != nil {
			return false, err
		}
		req.Host = host
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		var events []json.RawMessage
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&events) != nil {
			return false, nil
		}
		for _, e := range events {
			var attrs struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(e, &attrs) == nil && attrs.Type == sampleEventType {
				var pretty bytes.Buffer
				_ = json.Indent(&pretty, e, "", "  ")
				found = pretty.String()
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("the sample event did not reach %s in %v: %w\nlogs: %s (node/pods/ has the dispatcher's and %s's)", sampleDisplay, sampleEventTimeout, err, fw.WorkDir(), sampleDisplay)
	}
	return found, nil
}

// readManifests decodes every object of a multi-document YAML file.
func readManifests(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return config.Decode(b)
}

// shellQuote writes args as a shell would need them.
func shellQuote(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, ` "'{}$`) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}
