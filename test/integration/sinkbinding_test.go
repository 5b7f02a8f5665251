//go:build integration

package integration

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	sourcesclient "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/webhook"
)

// TestSinkBindingWebhookBindsSubjectsAsTheyAreCreated runs the binding
// webhook through the real API server. No controller runs here: the test
// writes each binding's status.sinkUri as the SinkBinding reconciler
// would, and checks what the webhook makes of the subjects created after.
func TestSinkBindingWebhookBindsSubjectsAsTheyAreCreated(t *testing.T) {
	ctx := context.Background()
	if _, err := cluster.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhook.SinkBindingWebhookName, metav1.GetOptions{}); err != nil {
		t.Fatalf("the SinkBinding webhook's configuration %s (config/core/500-webhook.yaml): %v", webhook.SinkBindingWebhookName, err)
	}
	client := versioned.NewForConfigOrDie(cluster.RESTConfig()).SourcesV1()
	ns := newNamespace(t, "sinkbinding")
	excluded := newNamespace(t, "sinkbinding-excluded")
	excludeFromBindings(t, excluded)

	const sink = "http://events.example.com/shop"
	overrides := map[string]string{"team": "shop"}
	wantEnv := []corev1.EnvVar{
		{Name: "LOG_LEVEL", Value: "debug"},
		{Name: sources.SinkEnv, Value: sink},
		{Name: sources.CEOverridesEnv, Value: `{"extensions":{"team":"shop"}}`},
	}

	// The webhook indexes every binding on each change of one, in the
	// order its informer saw them: once the last binding made here takes
	// effect, all do.
	bindSink(t, client, excluded, "producer", subjectNamed("apps/v1", "Deployment", "producer"), sink, overrides)
	bindSink(t, client, ns, "heartbeat", subjectNamed("batch/v1", "CronJob", "heartbeat"), sink, overrides)
	bindSink(t, client, ns, "migrate", subjectNamed("batch/v1", "Job", "migrate"), sink, overrides)
	bindSink(t, client, ns, "producer", subjectNamed("apps/v1", "Deployment", "producer"), sink, overrides)
	waitBound(t, ns, "producer", sink)

	t.Run("a Deployment created after its binding starts bound", func(t *testing.T) {
		d, err := cluster.Kube.AppsV1().Deployments(ns).Create(ctx, producerDeployment("producer"), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the Deployment: %v", err)
		}
		spec := d.Spec.Template.Spec
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
				t.Errorf("container %s's variables (-want, +got):\n%s", c.Name, diff)
			}
		}
	})

	t.Run("a namespace labelled bindings.knative.dev/exclude is left alone", func(t *testing.T) {
		d, err := cluster.Kube.AppsV1().Deployments(excluded).Create(ctx, producerDeployment("producer"), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the Deployment: %v", err)
		}
		if got := d.Spec.Template.Spec.Containers[0].Env; len(got) != 1 {
			t.Errorf("the excluded namespace's Deployment has variables %v, want only its own", got)
		}
	})

	t.Run("a CronJob's job template is bound", func(t *testing.T) {
		cj, err := cluster.Kube.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: "heartbeat"},
			Spec: batchv1.CronJobSpec{Schedule: "* * * * *", Suspend: ptrTo(true), JobTemplate: batchv1.JobTemplateSpec{
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: producerPodSpec(corev1.RestartPolicyNever)}},
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the CronJob: %v", err)
		}
		if diff := cmp.Diff(wantEnv, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env); diff != "" {
			t.Errorf("the job template's variables (-want, +got):\n%s", diff)
		}
	})

	t.Run("a Job is bound when created, and its updates pass even when the sink moved", func(t *testing.T) {
		job, err := cluster.Kube.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
			Spec: batchv1.JobSpec{Suspend: ptrTo(true), Template: corev1.PodTemplateSpec{
				Spec: producerPodSpec(corev1.RestartPolicyNever),
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the Job: %v", err)
		}
		if diff := cmp.Diff(wantEnv, job.Spec.Template.Spec.Containers[0].Env); diff != "" {
			t.Errorf("the Job's variables (-want, +got):\n%s", diff)
		}

		// A binding that rewrote the template of a Job that exists would
		// have the API server refuse every update of the Job.
		const moved = "http://events-v2.example.com/shop"
		setSinkURI(t, client, ns, "migrate", moved)
		bindSink(t, client, ns, "probe", subjectNamed("apps/v1", "Deployment", "probe"), moved, nil)
		waitBound(t, ns, "probe", moved)
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			job, err := cluster.Kube.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
			if err != nil {
				return err
			}
			job.Labels = map[string]string{"reviewed": "true"}
			_, err = cluster.Kube.BatchV1().Jobs(ns).Update(ctx, job, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Errorf("updating the Job's labels after its binding's sink moved: %v", err)
		}
	})

	t.Run("while its binding is being deleted, a subject written loses the variables", func(t *testing.T) {
		// A finalizer of the test's own holds the binding in deletion, as
		// the SinkBinding reconciler's does while it unbinds.
		const finalizer = "integration.flywheel.dev/hold"
		// Read afresh on a conflict: the binding's status may still be
		// being written.
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			sb, err := client.SinkBindings(ns).Get(ctx, "producer", metav1.GetOptions{})
			if err != nil {
				return err
			}
			sb.Finalizers = append(sb.Finalizers, finalizer)
			_, err = client.SinkBindings(ns).Update(ctx, sb, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatalf("adding a finalizer: %v", err)
		}
		t.Cleanup(func() {
			_, _ = client.SinkBindings(ns).Patch(context.Background(), "producer", types.MergePatchType,
				[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		})
		if err := client.SinkBindings(ns).Delete(ctx, "producer", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting the binding: %v", err)
		}
		waitUntil(t, 30*time.Second, "the webhook to unbind the Deployment", func(ctx context.Context) (bool, error) {
			d, err := cluster.Kube.AppsV1().Deployments(ns).Get(ctx, "producer", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			d.Labels = map[string]string{"touched": time.Now().Format("150405.000000")}
			updated, err := cluster.Kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return false, nil
			}
			return len(updated.Spec.Template.Spec.Containers[0].Env) == 1, nil
		})
	})
}

func subjectNamed(apiVersion, kind, name string) tracker.Reference {
	return tracker.Reference{APIVersion: apiVersion, Kind: kind, Name: name}
}

// bindSink creates a SinkBinding of subject in ns and records its sink as
// resolved to sink, as the SinkBinding reconciler would.
func bindSink(t *testing.T, client sourcesclient.SourcesV1Interface, ns, name string, subject tracker.Reference, sink string, overrides map[string]string) {
	t.Helper()
	spec := sourcesv1.SinkBindingSpec{
		SourceSpec:  duckv1.SourceSpec{Sink: duckv1.Destination{URI: parseSinkURL(t, sink)}},
		BindingSpec: duckv1.BindingSpec{Subject: subject},
	}
	if len(overrides) > 0 {
		spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: overrides}
	}
	if _, err := client.SinkBindings(ns).Create(context.Background(), &sourcesv1.SinkBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating SinkBinding %s/%s: %v", ns, name, err)
	}
	setSinkURI(t, client, ns, name, sink)
}

// setSinkURI records the binding's sink as resolved to sink.
func setSinkURI(t *testing.T, client sourcesclient.SourcesV1Interface, ns, name, sink string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sb, err := client.SinkBindings(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sb.Status.InitializeConditions()
		sb.Status.MarkSink(parseSinkURL(t, sink))
		sb.Status.MarkBindingAvailable()
		_, err = client.SinkBindings(ns).UpdateStatus(context.Background(), sb, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("recording the sink of SinkBinding %s/%s: %v", ns, name, err)
	}
}

// waitBound waits until the webhook binds a Deployment called name in ns
// to sink, asking with dry-run creates: the API server sends those
// through the webhook and stores nothing.
func waitBound(t *testing.T, ns, name, sink string) {
	t.Helper()
	waitUntil(t, 60*time.Second, "the binding webhook to bind Deployment "+name, func(ctx context.Context) (bool, error) {
		d, err := cluster.Kube.AppsV1().Deployments(ns).Create(ctx, producerDeployment(name), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, nil
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == sources.SinkEnv && e.Value == sink {
				return true, nil
			}
		}
		return false, nil
	})
}

func producerPodSpec(restart corev1.RestartPolicy) corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:  restart,
		InitContainers: []corev1.Container{{Name: "announce", Image: "ko://flywheel.dev/examples/hello", Env: []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}}}},
		Containers:     []corev1.Container{{Name: "app", Image: "ko://flywheel.dev/examples/hello", Env: []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}}}},
	}
}

func producerDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       producerPodSpec(corev1.RestartPolicyAlways),
			},
		},
	}
}

// excludeFromBindings labels ns so that the binding webhook leaves its
// objects alone.
func excludeFromBindings(t *testing.T, ns string) {
	t.Helper()
	patch := []byte(`{"metadata":{"labels":{"bindings.knative.dev/exclude":"true"}}}`)
	if _, err := cluster.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("labelling namespace %s: %v", ns, err)
	}
}

func parseSinkURL(t *testing.T, s string) *apis.URL {
	t.Helper()
	u, err := apis.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
