//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	"flywheel.dev/pkg/apis/serving"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/sources"
)

// heartbeatImage posts an event to K_SINK every PERIOD
// (test/e2e/testdata/heartbeat).
const heartbeatImage = "ko://flywheel.dev/test/e2e/testdata/heartbeat"

// TestSourcesSendToTheirSinks runs one source of each kind into one
// recorder Service, each to a path of its own: a PingSource's tick
// through a Broker and its Trigger, an ApiServerSource's events for a
// ConfigMap made, changed and deleted (once its service account
// may watch ConfigMaps; until then it says which permission it lacks), a
// Deployment bound to the recorder by a SinkBinding (and unbound when the
// binding goes), and a ContainerSource. The PingSource is made first: its
// tick is up to a minute away, which the others' checks use.
func TestSourcesSendToTheirSinks(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "sources")
	rec := createRecorder(t, client, ns, "recorder", map[string]string{serving.MinScaleAnnotation.String(): "1"})
	to := func(path string) duckv1.SourceSpec {
		return duckv1.SourceSpec{
			Sink: duckv1.Destination{
				Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "recorder"},
				URI: &apis.URL{Path: path},
			},
			CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "e2e"}},
		}
	}
	sinkURL := rec.Status.Address.URL.String()

	// The PingSource feeds a Broker, whose Trigger takes its ticks to
	// the recorder. Through fw, as a user would; create waits for Ready.
	broker := createBroker(t, client, ns, "default", nil)
	fw(t, "trigger", "create", "ticks", "-n", ns, "--broker", "default", "--sink", "ksvc:recorder", "--filter", "type=dev.knative.sources.ping")
	waitTriggerReady(t, client, ns, "ticks")
	out := fw(t, "source", "ping", "create", "every-minute", "-n", ns, "--schedule", "* * * * *",
		"--data", `{"hello":"ping"}`, "--content-type", "application/json", "--sink", "broker:default", "--ce-override", "team=e2e")
	if want := broker.Status.Address.URL.String(); !strings.Contains(out, want) {
		t.Errorf("fw source ping create printed %q, want the Broker's address %s", out, want)
	}

	t.Run("ApiServerSource", func(t *testing.T) {
		watchConfigMaps := func(name, serviceAccount string) *sourcesv1.ApiServerSource {
			src, err := client.SourcesV1().ApiServerSources(ns).Create(t.Context(), &sourcesv1.ApiServerSource{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: sourcesv1.ApiServerSourceSpec{
					SourceSpec: to("/" + name),
					Resources: []sourcesv1.APIVersionKindSelector{{
						APIVersion: "v1", Kind: "ConfigMap",
						Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"watched": "yes"}},
					}},
					Mode:               sourcesv1.EventModeReference,
					ServiceAccountName: serviceAccount,
				},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}
		// The namespace's default account may not list ConfigMaps.
		denied := watchConfigMaps("denied", "default")
		cond := waitCondition(t, "ApiServerSource denied", func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().ApiServerSources(ns).Get(ctx, denied.Name, metav1.GetOptions{})
		}, sourcesv1.ApiServerSourceConditionSufficientPermissions, corev1.ConditionFalse)
		if !strings.Contains(cond.Message, "configmaps") || !strings.Contains(cond.Message, "list") {
			t.Errorf("SufficientPermissions says %q, want the verb and resource it lacks", cond.Message)
		}

		grantConfigMapWatch(t, ns, "watcher")
		src := watchConfigMaps("watcher", "watcher")
		waitCondition(t, "ApiServerSource watcher", func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().ApiServerSources(ns).Get(ctx, src.Name, metav1.GetOptions{})
		}, apis.ConditionReady, corev1.ConditionTrue)
		if _, err := cluster.Kube.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "unwatched", Namespace: ns},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cluster.Kube.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "watched", Namespace: ns, Labels: map[string]string{"watched": "yes"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		watched, err := cluster.Kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "watched", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		watched.Data = map[string]string{"changed": "yes"}
		if _, err := cluster.Kube.CoreV1().ConfigMaps(ns).Update(t.Context(), watched, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Kube.CoreV1().ConfigMaps(ns).Delete(t.Context(), "watched", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitRecords(t, rec, "/watcher", func(rs []record) bool { return len(rs) >= 3 })
		for i, typ := range []string{"dev.knative.apiserver.ref.add", "dev.knative.apiserver.ref.update", "dev.knative.apiserver.ref.delete"} {
			if r := got[i]; r.Type != typ || !strings.Contains(r.Data, `"name":"watched"`) || r.Extensions["team"] != "e2e" {
				t.Errorf("the ApiServerSource's event %d is %+v, want a %s of ConfigMap watched with team=e2e", i+1, r, typ)
			}
		}
		for _, r := range records(t, rec, "/watcher") {
			if strings.Contains(r.Data, "unwatched") {
				t.Errorf("the ApiServerSource sent an event for a ConfigMap its selector does not match: %+v", r)
			}
		}
	})

	t.Run("SinkBinding", func(t *testing.T) {
		binding, err := client.SourcesV1().SinkBindings(ns).Create(t.Context(), &sourcesv1.SinkBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "heartbeats", Namespace: ns},
			Spec: sourcesv1.SinkBindingSpec{
				SourceSpec: to("/binding"),
				BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
					APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "heartbeat"}},
				}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitCondition(t, "SinkBinding", func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().SinkBindings(ns).Get(ctx, binding.Name, metav1.GetOptions{})
		}, apis.ConditionReady, corev1.ConditionTrue)
		// Made after the binding: the webhook binds it as it is created.
		createHeartbeat(t, ns)
		got := waitRecords(t, rec, "/binding", func(rs []record) bool { return len(rs) >= 2 })
		if got[0].Type != "dev.flywheel.heartbeat" || got[0].Extensions["team"] != "e2e" {
			t.Errorf("the bound Deployment sent %+v, want heartbeats with team=e2e", got[0])
		}
		env := func(ctx context.Context) (map[string]string, error) {
			d, err := cluster.Kube.AppsV1().Deployments(ns).Get(ctx, "heartbeat", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			vars := map[string]string{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				vars[e.Name] = e.Value
			}
			return vars, nil
		}
		vars, err := env(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(vars[sources.SinkEnv], "/binding") || !strings.HasPrefix(vars[sources.SinkEnv], sinkURL) {
			t.Errorf("the Deployment's %s is %q, want the recorder's %s/binding", sources.SinkEnv, vars[sources.SinkEnv], sinkURL)
		}
		var overrides duckv1.CloudEventOverrides
		if err := json.Unmarshal([]byte(vars[sources.CEOverridesEnv]), &overrides); err != nil || overrides.Extensions["team"] != "e2e" {
			t.Errorf("the Deployment's %s is %q", sources.CEOverridesEnv, vars[sources.CEOverridesEnv])
		}

		if err := client.SourcesV1().SinkBindings(ns).Delete(t.Context(), binding.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			vars, err = env(ctx)
			_, sink := vars[sources.SinkEnv]
			return err == nil && !sink, nil
		}); err != nil {
			t.Errorf("the Deployment still has %s=%q after its binding was deleted", sources.SinkEnv, vars[sources.SinkEnv])
		}
	})

	t.Run("ContainerSource", func(t *testing.T) {
		src, err := client.SourcesV1().ContainerSources(ns).Create(t.Context(), &sourcesv1.ContainerSource{
			ObjectMeta: metav1.ObjectMeta{Name: "beats", Namespace: ns},
			Spec: sourcesv1.ContainerSourceSpec{
				SourceSpec: to("/container"),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Image: heartbeatImage,
					Env:   []corev1.EnvVar{{Name: "PERIOD", Value: "500ms"}},
				}}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitCondition(t, "ContainerSource", func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().ContainerSources(ns).Get(ctx, src.Name, metav1.GetOptions{})
		}, apis.ConditionReady, corev1.ConditionTrue)
		got := waitRecords(t, rec, "/container", func(rs []record) bool { return len(rs) >= 1 })
		if got[0].Type != "dev.flywheel.heartbeat" || got[0].Extensions["team"] != "e2e" {
			t.Errorf("the ContainerSource sent %+v, want heartbeats with team=e2e", got[0])
		}
	})

	t.Run("PingSource", func(t *testing.T) {
		got := waitRecords(t, rec, "/", func(rs []record) bool { return len(rs) >= 1 })
		want := "/apis/v1/namespaces/" + ns + "/pingsources/every-minute"
		if r := got[0]; r.Type != "dev.knative.sources.ping" || r.Source != want || r.Data != `{"hello":"ping"}` || r.Extensions["team"] != "e2e" {
			t.Errorf("the PingSource sent %+v, want type dev.knative.sources.ping, source %s, its data and team=e2e", r, want)
		}
	})

	out = fw(t, "source", "list", "-n", ns)
	for _, want := range []string{"every-minute", "PingSource", "watcher", "ApiServerSource", "beats", "ContainerSource"} {
		if !strings.Contains(out, want) {
			t.Errorf("fw source list printed:\n%s\nwant %s in it", out, want)
		}
	}
}

// createHeartbeat creates Deployment heartbeat (label app=heartbeat),
// whose pod posts an event to its K_SINK every half second.
func createHeartbeat(t *testing.T, ns string) {
	t.Helper()
	labels := map[string]string{"app": "heartbeat"}
	if _, err := cluster.Kube.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "heartbeat", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "heartbeat", Image: heartbeatImage,
					Env: []corev1.EnvVar{{Name: "PERIOD", Value: "500ms"}},
				}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitCondition waits until the object get returns has condition typ at
// status, and returns the condition.
func waitCondition(t *testing.T, what string, get func(context.Context) (duckv1.KRShaped, error), typ apis.ConditionType, status corev1.ConditionStatus) apis.Condition {
	t.Helper()
	var last *duckv1.Status
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		obj, err := get(ctx)
		if err != nil {
			return false, nil
		}
		last = obj.GetStatus()
		c := last.GetCondition(typ)
		return c != nil && c.Status == status, nil
	})
	if err != nil {
		t.Fatalf("%s: %s never %s: %+v\nlogs in %s", what, typ, status, last, workDir)
	}
	return *last.GetCondition(typ)
}

// grantConfigMapWatch makes service account name, allowed to get, list
// and watch the ConfigMaps of ns.
func grantConfigMapWatch(t *testing.T, ns, name string) {
	t.Helper()
	ctx := t.Context()
	if _, err := cluster.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
