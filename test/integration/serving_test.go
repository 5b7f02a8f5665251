//go:build integration

package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayv1client "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/typed/apis/v1"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/queue"
)

// The serving tests run the controller against the real API server and
// kube-controller-manager (Deployments → ReplicaSets → Pods, garbage
// collection). No kubelet runs, so the test plays it: it marks the pods a
// ReplicaSet made as running and ready, or as crashing, through the API.

// controllerOnce starts the controller for the first test that needs it.
// The API tests before it run without reconcilers writing their objects:
// Go runs a package's tests file by file in name order, so the files of
// tests that need the controller are named serving*_test.go (or sort
// after them), and the API tests call noControllerYet.
var (
	controllerOnce    sync.Once
	controllerErr     error
	controllerStarted atomic.Bool
)

func needController(t *testing.T) {
	t.Helper()
	controllerOnce.Do(func() {
		controllerStarted.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		controllerErr = cluster.StartController(ctx)
	})
	if controllerErr != nil {
		t.Fatalf("starting the controller: %v", controllerErr)
	}
}

// noControllerYet fails a test that must see its objects untouched by
// reconcilers when a test before it started the controller.
func noControllerYet(t *testing.T) {
	t.Helper()
	if controllerStarted.Load() {
		t.Fatal("the controller already runs: this test must run before every test that calls needController " +
			"(put those in files named serving*_test.go, which sort after this one)")
	}
}

const testImageDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestServiceYieldsARevisionThatBecomesReady follows a Service through
// the reconcilers: its Configuration, its first Revision, the Revision's
// Deployment with the sidecar, its PodAutoscaler and Services, each owned
// by its parent; readiness once the pods are; a second revision on a
// template change; and everything gone once the Service is deleted.
func TestServiceYieldsARevisionThatBecomesReady(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "serving")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())

	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
	}
	svc, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Service: %v", err)
	}

	cfg := waitFor(t, "the Configuration", func(ctx context.Context) (*servingv1.Configuration, error) {
		return client.ServingV1().Configurations(ns).Get(ctx, "hello", metav1.GetOptions{})
	})
	checkControlledBy(t, cfg, "Service", svc.Name)

	rev := waitFor(t, "the first Revision", func(ctx context.Context) (*servingv1.Revision, error) {
		return client.ServingV1().Revisions(ns).Get(ctx, "hello-00001", metav1.GetOptions{})
	})
	checkControlledBy(t, rev, "Configuration", cfg.Name)
	if got := rev.Labels[serving.ServiceLabel.String()]; got != "hello" {
		t.Errorf("revision's service label = %q, want hello", got)
	}

	deploy := waitFor(t, "the Deployment", func(ctx context.Context) (*appsv1.Deployment, error) {
		return cluster.Kube.AppsV1().Deployments(ns).Get(ctx, "hello-00001-deployment", metav1.GetOptions{})
	})
	checkControlledBy(t, deploy, "Revision", rev.Name)
	var containers []string
	for _, c := range deploy.Spec.Template.Spec.Containers {
		containers = append(containers, c.Name)
	}
	if !slices.Equal(containers, []string{"user-container", queue.ContainerName}) {
		t.Errorf("pod containers = %v, want the app and the queue-proxy", containers)
	}
	for _, name := range []string{"hello-00001", "hello-00001-private"} {
		s := waitFor(t, "Service "+name, func(ctx context.Context) (*corev1.Service, error) {
			return cluster.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		})
		checkControlledBy(t, s, "Revision", rev.Name)
	}
	pa := waitFor(t, "the PodAutoscaler", func(ctx context.Context) (metav1.Object, error) {
		return client.AutoscalingV1alpha1().PodAutoscalers(ns).Get(ctx, "hello-00001", metav1.GetOptions{})
	})
	checkControlledBy(t, pa, "Revision", rev.Name)

	// Play the kubelet: the ReplicaSet's pod runs and is ready.
	actAsKubelet(t, ns, "hello-00001", runningAndReady)
	rev = waitForCondition(t, "the Revision to be Ready", func(ctx context.Context) (*servingv1.Revision, error) {
		return client.ServingV1().Revisions(ns).Get(ctx, "hello-00001", metav1.GetOptions{})
	}, func(r *servingv1.Revision) bool { return r.IsReady() })
	if len(rev.Status.ContainerStatuses) != 1 || !strings.HasSuffix(rev.Status.ContainerStatuses[0].ImageDigest, "@"+testImageDigest) {
		t.Errorf("container statuses = %+v, want the digest the node reported", rev.Status.ContainerStatuses)
	}
	waitForCondition(t, "the Service's configuration to be ready", func(ctx context.Context) (*servingv1.Service, error) {
		return client.ServingV1().Services(ns).Get(ctx, "hello", metav1.GetOptions{})
	}, func(s *servingv1.Service) bool {
		return s.Status.LatestReadyRevisionName == "hello-00001" &&
			s.Status.GetCondition(servingv1.ServiceConditionConfigurationsReady).IsTrue()
	})

	// A template change makes a second Revision.
	err = retryOnConflict(ctx, func() error {
		svc, err := client.ServingV1().Services(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return err
		}
		svc.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TARGET", Value: "v2"}}
		_, err = client.ServingV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating the template: %v", err)
	}
	waitFor(t, "the second Revision", func(ctx context.Context) (*servingv1.Revision, error) {
		return client.ServingV1().Revisions(ns).Get(ctx, "hello-00002", metav1.GetOptions{})
	})
	actAsKubelet(t, ns, "hello-00002", runningAndReady)
	waitForCondition(t, "the Service to take the second revision as latest ready", func(ctx context.Context) (*servingv1.Service, error) {
		return client.ServingV1().Services(ns).Get(ctx, "hello", metav1.GetOptions{})
	}, func(s *servingv1.Service) bool { return s.Status.LatestReadyRevisionName == "hello-00002" })

	// Deleting the Service removes what it made, down to the Deployments.
	if err := client.ServingV1().Services(ns).Delete(ctx, "hello", metav1.DeleteOptions{PropagationPolicy: ptrTo(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "the Service's objects to be garbage collected", func(ctx context.Context) (bool, error) {
		revs, err := client.ServingV1().Revisions(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		deps, err := cluster.Kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		_, err = client.ServingV1().Configurations(ns).Get(ctx, "hello", metav1.GetOptions{})
		return len(revs.Items) == 0 && len(deps.Items) == 0 && apierrs.IsNotFound(err), nil
	})
}

// TestCrashingRevisionSurfacesOnTheService shows a user why their Service
// is not ready when its app crashes: the exit code and the app's last
// words reach the Service's status.
func TestCrashingRevisionSurfacesOnTheService(t *testing.T) {
	needController(t)
	ns := newNamespace(t, "crash")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "crasher", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
	}
	if _, err := client.ServingV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	actAsKubelet(t, ns, "crasher-00001", crashLooping(3, "listening on :8080\npanic: no DATABASE_URL"))
	got := waitForCondition(t, "the Service to report the crash", func(ctx context.Context) (*servingv1.Service, error) {
		return client.ServingV1().Services(ns).Get(ctx, "crasher", metav1.GetOptions{})
	}, func(s *servingv1.Service) bool {
		return s.Status.GetCondition(servingv1.ServiceConditionConfigurationsReady).IsFalse()
	})
	msg := got.Status.GetCondition(servingv1.ServiceConditionConfigurationsReady).Message
	for _, want := range []string{"exit code 3", "panic: no DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ConfigurationsReady message %q does not say %q", msg, want)
		}
	}
}

// podState is what the test, as kubelet, reports for a pod.
type podState func(*corev1.Pod)

func runningAndReady(p *corev1.Pod) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = "10.244.0.10"
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	p.Status.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: testImageDigest, Ready: true, Started: ptrTo(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

func crashLooping(exitCode int32, lastWords string) podState {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image, RestartCount: 4,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exitCode, Reason: "Error", Message: lastWords,
			}},
		}}
	}
}

// actAsKubelet waits for the pods of revision and reports state for each.
func actAsKubelet(t *testing.T, ns, revision string, state podState) {
	t.Helper()
	selector := labels.SelectorFromSet(labels.Set{serving.RevisionLabel.String(): revision}).String()
	waitUntil(t, time.Minute, "the pods of "+revision+" to run", func(ctx context.Context) (bool, error) {
		pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			state(p)
			if _, err := cluster.Kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				return false, nil // a conflict: read again
			}
		}
		return true, nil
	})
}

func checkControlledBy(t *testing.T, obj metav1.Object, kind, name string) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != kind || ref.Name != name {
		t.Errorf("%s is controlled by %+v, want %s %s", obj.GetName(), ref, kind, name)
	}
}

// waitFor polls get until it finds the object.
func waitFor[T any](t *testing.T, what string, get func(context.Context) (T, error)) T {
	t.Helper()
	return waitForCondition(t, what, get, func(T) bool { return true })
}

// waitForCondition polls get until ok holds for the object, and returns
// it. On timeout it fails with the last object seen.
func waitForCondition[T any](t *testing.T, what string, get func(context.Context) (T, error), ok func(T) bool) T {
	t.Helper()
	var last T
	var lastErr error
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		obj, err := get(t.Context())
		if err == nil {
			last, lastErr = obj, nil
			if ok(obj) {
				return obj
			}
		} else {
			lastErr = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last error %v; last seen:\n%s\ncontroller log:\n%s", what, lastErr, describe(last), tail(cluster.Log("controller"), 20))
	return last
}

func describe(obj any) string {
	return fmt.Sprintf("%+v", obj)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestRouteSplitsTrafficThroughGatewayAPI shows the Route side: a
// Service's traffic block becomes HTTPRoutes with the right weights,
// hostnames and tag header match, and the Service is Ready, with its URL,
// once the Gateway (played by the test) accepts them.
func TestRouteSplitsTrafficThroughGatewayAPI(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "split")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	gateways := gatewayclient.NewForConfigOrDie(cluster.RESTConfig()).GatewayV1().HTTPRoutes(ns)

	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "split", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
	}
	if _, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	actAsKubelet(t, ns, "split-00001", runningAndReady)
	acceptHTTPRoutes(t, ns)
	ready := waitForCondition(t, "the Service to be Ready", func(ctx context.Context) (*servingv1.Service, error) {
		return client.ServingV1().Services(ns).Get(ctx, "split", metav1.GetOptions{})
	}, func(s *servingv1.Service) bool { return s.IsReady() })
	if want := "http://split." + ns + ".example.com"; ready.Status.URL.String() != want {
		t.Errorf("URL = %s, want %s", ready.Status.URL, want)
	}

	// A second revision, and 90/10 between the two with a tag on the new
	// one.
	err := retryOnConflict(ctx, func() error {
		s, err := client.ServingV1().Services(ns).Get(ctx, "split", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TARGET", Value: "v2"}}
		s.Spec.Traffic = []servingv1.TrafficTarget{
			{RevisionName: "split-00001", Percent: ptrTo[int64](90)},
			{LatestRevision: ptrTo(true), Percent: ptrTo[int64](10), Tag: "candidate"},
		}
		_, err = client.ServingV1().Services(ns).Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("splitting traffic: %v", err)
	}
	actAsKubelet(t, ns, "split-00002", runningAndReady)
	host := "split." + ns + ".example.com"
	main := waitForCondition(t, "the 90/10 split in the HTTPRoute", func(ctx context.Context) (*gatewayv1.HTTPRoute, error) {
		return gateways.Get(ctx, host, metav1.GetOptions{})
	}, func(r *gatewayv1.HTTPRoute) bool { return reflectWeights(r) == "split-00001=90,split-00002=10" })
	checkControlledBy(t, main, "Route", "split")
	if !slices.Contains(main.Spec.Hostnames, gatewayv1.Hostname(host)) {
		t.Errorf("hostnames = %v, want %s", main.Spec.Hostnames, host)
	}
	if !hasTagHeaderRule(main, "candidate", "split-00002") {
		t.Errorf("no rule sends Knative-Serving-Tag: candidate to split-00002:\n%+v", main.Spec.Rules)
	}
	tagHost := "candidate-split." + ns + ".example.com"
	// The tag follows the latest ready revision: the new one, once ready.
	waitForCondition(t, "the tag's HTTPRoute to send everything to split-00002", func(ctx context.Context) (*gatewayv1.HTTPRoute, error) {
		return gateways.Get(ctx, tagHost, metav1.GetOptions{})
	}, func(r *gatewayv1.HTTPRoute) bool { return reflectWeights(r) == "split-00002=100" })
	waitForCondition(t, "the Service to report the split with the tag URL", func(ctx context.Context) (*servingv1.Service, error) {
		return client.ServingV1().Services(ns).Get(ctx, "split", metav1.GetOptions{})
	}, func(s *servingv1.Service) bool {
		for _, tt := range s.Status.Traffic {
			if tt.Tag == "candidate" && tt.URL != nil && tt.URL.Host == tagHost && *tt.Percent == 10 {
				return s.IsReady()
			}
		}
		return false
	})
}

// reflectWeights renders the default rule's backends as name=weight,
// sorted, for comparison.
func reflectWeights(r *gatewayv1.HTTPRoute) string {
	for _, rule := range r.Spec.Rules {
		if len(rule.Matches) > 0 && len(rule.Matches[0].Headers) > 0 {
			continue // a tag's header rule
		}
		var out []string
		for _, b := range rule.BackendRefs {
			w := int32(1)
			if b.Weight != nil {
				w = *b.Weight
			}
			out = append(out, fmt.Sprintf("%s=%d", b.Name, w))
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	return ""
}

func hasTagHeaderRule(r *gatewayv1.HTTPRoute, tag, revision string) bool {
	for _, rule := range r.Spec.Rules {
		for _, m := range rule.Matches {
			for _, h := range m.Headers {
				if strings.EqualFold(string(h.Name), "Knative-Serving-Tag") && h.Value == tag &&
					len(rule.BackendRefs) == 1 && string(rule.BackendRefs[0].Name) == revision {
					return true
				}
			}
		}
	}
	return false
}

// acceptHTTPRoutes plays the Gateway controller for ns until the test
// ends: every HTTPRoute there is kept Accepted with its references
// resolved at its current generation, for each Gateway it names. It keeps
// running because the Route reconciler rewrites HTTPRoutes as revisions
// become ready, and a one-time acceptance would leave a later generation
// unaccepted, as no real gateway would.
func acceptHTTPRoutes(t *testing.T, ns string) {
	t.Helper()
	routes := gatewayclient.NewForConfigOrDie(cluster.RESTConfig()).GatewayV1().HTTPRoutes(ns)
	accepted := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		once := sync.OnceFunc(func() { close(accepted) })
		_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			if acceptAllHTTPRoutes(ctx, routes) {
				once()
			}
			return false, nil
		})
	}()
	select {
	case <-accepted:
	case <-time.After(time.Minute):
		t.Fatal("timed out waiting for HTTPRoutes to accept")
	}
}

// acceptAllHTTPRoutes writes the status of every HTTPRoute whose parents
// do not yet report its current generation. It reports whether there was
// at least one route and every route is now accepted.
func acceptAllHTTPRoutes(ctx context.Context, routes gatewayv1client.HTTPRouteInterface) bool {
	list, err := routes.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		return false
	}
	all := true
	for i := range list.Items {
		r := &list.Items[i]
		if parentsObserved(r) {
			continue
		}
		r.Status.Parents = nil
		for _, parent := range r.Spec.ParentRefs {
			r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{
				ParentRef:      parent,
				ControllerName: "flywheel.dev/integration-test",
				Conditions: []metav1.Condition{
					{Type: string(gatewayv1.RouteConditionAccepted), Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now()},
					{Type: string(gatewayv1.RouteConditionResolvedRefs), Status: metav1.ConditionTrue, Reason: "ResolvedRefs", ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now()},
				},
			})
		}
		if _, err := routes.UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
			all = false // a conflict: the next poll reads it again
		}
	}
	return all
}

// parentsObserved reports whether r's status has every parent accepted at
// r's current generation.
func parentsObserved(r *gatewayv1.HTTPRoute) bool {
	if len(r.Status.Parents) != len(r.Spec.ParentRefs) {
		return false
	}
	for _, p := range r.Status.Parents {
		c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c == nil || c.ObservedGeneration != r.Generation {
			return false
		}
	}
	return true
}

// TestGCKeepsTheConfiguredNumberOfRevisions lowers config-gc's bounds and
// makes five revisions: the GC deletes the old ones no route uses beyond
// the one non-active revision it may keep.
func TestGCKeepsTheConfiguredNumberOfRevisions(t *testing.T) {
	needController(t)
	ctx := t.Context()
	cms := cluster.Kube.CoreV1().ConfigMaps(local.SystemNamespace)
	gc, err := cms.Get(ctx, config.GCConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	saved := gc.Data
	gc.Data = map[string]string{
		"min-non-active-revisions":      "0",
		"max-non-active-revisions":      "1",
		"retain-since-create-time":      "disabled",
		"retain-since-last-active-time": "disabled",
	}
	if _, err := cms.Update(ctx, gc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gc, err := cms.Get(context.Background(), config.GCConfigName, metav1.GetOptions{})
		if err == nil {
			gc.Data = saved
			_, err = cms.Update(context.Background(), gc, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Errorf("restoring %s: %v", config.GCConfigName, err)
		}
	})

	ns := newNamespace(t, "gc")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gc", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
	}
	if _, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const generations = 5
	for gen := 1; gen <= generations; gen++ {
		name := fmt.Sprintf("gc-%05d", gen)
		actAsKubelet(t, ns, name, runningAndReady)
		waitForCondition(t, name+" to be the latest ready", func(ctx context.Context) (*servingv1.Service, error) {
			return client.ServingV1().Services(ns).Get(ctx, "gc", metav1.GetOptions{})
		}, func(s *servingv1.Service) bool { return s.Status.LatestReadyRevisionName == name })
		if gen == generations {
			break
		}
		err := retryOnConflict(ctx, func() error {
			s, err := client.ServingV1().Services(ns).Get(ctx, "gc", metav1.GetOptions{})
			if err != nil {
				return err
			}
			s.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GEN", Value: fmt.Sprint(gen + 1)}}
			_, err = client.ServingV1().Services(ns).Update(ctx, s, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	waitUntil(t, time.Minute, "the GC to keep the latest and one more", func(ctx context.Context) (bool, error) {
		revs, err := client.ServingV1().Revisions(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		names = names[:0]
		for _, r := range revs.Items {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		return len(names) == 2, nil
	})
	if !slices.Equal(names, []string{"gc-00004", "gc-00005"}) {
		t.Errorf("revisions kept = %v, want the newest two", names)
	}
}

func retryOnConflict(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !apierrs.IsConflict(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
