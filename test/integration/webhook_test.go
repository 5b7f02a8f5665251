//go:build integration

package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
)

// TestWebhookDefaultsAServiceAndRecordsWhoChangedIt creates the smallest
// Service a user can write and checks what the webhook fills in, then has
// a second user change it.
func TestWebhookDefaultsAServiceAndRecordsWhoChangedIt(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "defaults")
	admin := versioned.NewForConfigOrDie(cluster.RESTConfig())

	created, err := admin.ServingV1().Services(ns).Create(ctx, &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Service: %v", err)
	}

	spec := created.Spec.Template.Spec
	if len(spec.Containers) != 1 || spec.Containers[0].Name != "user-container" {
		t.Errorf("container name = %q, want user-container", spec.Containers[0].Name)
	}
	if got := spec.TimeoutSeconds; got == nil || *got != 300 {
		t.Errorf("timeoutSeconds = %v, want 300", got)
	}
	if got := spec.ContainerConcurrency; got == nil || *got != 0 {
		t.Errorf("containerConcurrency = %v, want 0", got)
	}
	if rp := spec.Containers[0].ReadinessProbe; rp == nil || rp.TCPSocket == nil || rp.SuccessThreshold != 1 {
		t.Errorf("readinessProbe = %+v, want a TCP probe with successThreshold 1", rp)
	}
	wantTraffic := []servingv1.TrafficTarget{{LatestRevision: ptrTo(true), Percent: ptrTo[int64](100)}}
	if diff := cmp.Diff(wantTraffic, created.Spec.Traffic); diff != "" {
		t.Errorf("traffic (-want, +got):\n%s", diff)
	}

	adminName := whoAmI(t, cluster.RESTConfig())
	if got := created.Annotations[serving.CreatorAnnotation.String()]; got != adminName {
		t.Errorf("creator = %q, want %q", got, adminName)
	}
	if got := created.Annotations[serving.LastModifierAnnotation.String()]; got != adminName {
		t.Errorf("lastModifier = %q, want %q", got, adminName)
	}

	// A second user, allowed through the aggregated edit role that
	// config/core adds, changes the template.
	bindEdit(t, ns, "bob")
	bobCfg := rest.CopyConfig(cluster.RESTConfig())
	bobCfg.Impersonate = rest.ImpersonationConfig{UserName: "bob"}
	bob := versioned.NewForConfigOrDie(bobCfg)
	// As any client does beside a controller that writes the Service's
	// status: read, change, write, and again on a conflict.
	var updated *servingv1.Service
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := bob.ServingV1().Services(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return err
		}
		svc.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TARGET", Value: "bob"}}
		updated, err = bob.ServingV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("bob updating the Service: %v", err)
	}
	if got := updated.Annotations[serving.LastModifierAnnotation.String()]; got != "bob" {
		t.Errorf("lastModifier after bob's change = %q, want bob", got)
	}
	if got := updated.Annotations[serving.CreatorAnnotation.String()]; got != adminName {
		t.Errorf("creator after bob's change = %q, want %q still", got, adminName)
	}

	// Nobody may rewrite the creator.
	updated.Annotations[serving.CreatorAnnotation.String()] = "mallory"
	if _, err := bob.ServingV1().Services(ns).Update(ctx, updated, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), serving.CreatorAnnotation.String()) {
		t.Errorf("changing the creator annotation: err = %v, want a refusal naming %s", err, serving.CreatorAnnotation)
	}
}

func whoAmI(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	r, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(
		context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("asking the API server who we are: %v", err)
	}
	return r.Status.UserInfo.Username
}

func bindEdit(t *testing.T, ns, user string) {
	t.Helper()
	_, err := cluster.Kube.RbacV1().RoleBindings(ns).Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("binding %s to edit: %v", user, err)
	}
	// kube-controller-manager folds the aggregated roles of config/core
	// into edit; wait until it has, rather than race it.
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		edit, err := cluster.Kube.RbacV1().ClusterRoles().Get(ctx, "edit", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, rule := range edit.Rules {
			if slices.Contains(rule.APIGroups, serving.GroupName) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the edit ClusterRole never gained the rules of %s: %v", serving.GroupName, err)
	}
}

// TestWebhookFillsInSecurePodDefaults turns config-features'
// secure-pod-defaults to enabled and creates a Service (a dry run, which
// admission sees whole): the webhook gives its container the restricted
// profile's securityContext, keeping NET_BIND_SERVICE for its port 80.
func TestWebhookFillsInSecurePodDefaults(t *testing.T) {
	ctx := t.Context()
	cms := cluster.Kube.CoreV1().ConfigMaps(local.SystemNamespace)
	features, err := cms.Get(ctx, config.FeaturesConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	saved := features.Data
	features.Data = map[string]string{config.FeatureSecurePodDefaults: "enabled"}
	if _, err := cms.Update(ctx, features, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			features, err := cms.Get(context.Background(), config.FeaturesConfigName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			features.Data = saved
			_, err = cms.Update(context.Background(), features, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Errorf("restoring %s: %v", config.FeaturesConfigName, err)
		}
	})

	ns := newNamespace(t, "securedefaults")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	tmpl := template("ko://flywheel.dev/examples/hello")
	tmpl.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "restricted", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: tmpl}},
	}
	want := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptrTo(false),
		RunAsNonRoot:             ptrTo(true),
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
	}
	// The webhook reads the ConfigMap through a watch: dry runs until it
	// has.
	var got *corev1.SecurityContext
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		created, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, err
		}
		got = created.Spec.Template.Spec.Containers[0].SecurityContext
		return got != nil, nil
	})
	if err != nil {
		t.Fatalf("the webhook never filled in a securityContext: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the container's securityContext (-want, +got):\n%s", diff)
	}
}

// TestWebhookRejectsInvalidObjects sends invalid objects through the real
// API server; each must be refused by the webhook with a message that names
// the offending field.
func TestWebhookRejectsInvalidObjects(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "invalid")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

	service := func(name string, mutate func(*servingv1.Service)) *servingv1.Service {
		s := &servingv1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
		}
		mutate(s)
		return s
	}
	annotated := func(key serving.AnnotationKey, value string) func(*servingv1.Service) {
		return func(s *servingv1.Service) {
			s.Spec.Template.Annotations = map[string]string{key.String(): value}
		}
	}
	container := func(s *servingv1.Service) *corev1.Container { return &s.Spec.Template.Spec.Containers[0] }

	tests := []struct {
		name      string
		service   *servingv1.Service
		wantField string
	}{{
		name:      "image missing",
		service:   service("no-image", func(s *servingv1.Service) { container(s).Image = "" }),
		wantField: "spec.template.spec.containers[0].image",
	}, {
		name: "traffic percents add up to 90",
		service: service("percents", func(s *servingv1.Service) {
			s.Spec.Traffic = []servingv1.TrafficTarget{{LatestRevision: ptrTo(true), Percent: ptrTo[int64](90)}}
		}),
		wantField: "spec.traffic",
	}, {
		name: "tag used twice",
		service: service("dup-tags", func(s *servingv1.Service) {
			s.Spec.Traffic = []servingv1.TrafficTarget{
				{Tag: "a", LatestRevision: ptrTo(true), Percent: ptrTo[int64](50)},
				{Tag: "a", RevisionName: "dup-tags-00001", Percent: ptrTo[int64](50)},
			}
		}),
		wantField: "spec.traffic[1].tag",
	}, {
		name: "tag is not a DNS label",
		service: service("bad-tag", func(s *servingv1.Service) {
			s.Spec.Traffic = []servingv1.TrafficTarget{{Tag: "Not_A_Label", LatestRevision: ptrTo(true), Percent: ptrTo[int64](100)}}
		}),
		wantField: "spec.traffic[0].tag",
	}, {
		name: "Service traffic names a configuration",
		service: service("cfg-target", func(s *servingv1.Service) {
			s.Spec.Traffic = []servingv1.TrafficTarget{{ConfigurationName: "other", Percent: ptrTo[int64](100)}}
		}),
		wantField: "spec.traffic[0].configurationName",
	}, {
		name: "two containers declare ports",
		service: service("two-ports", func(s *servingv1.Service) {
			s.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "a", Image: "ko://a", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "b", Image: "ko://b", Ports: []corev1.ContainerPort{{ContainerPort: 8081}}},
			}
		}),
		wantField: "ports",
	}, {
		name: "reserved env var",
		service: service("reserved-env", func(s *servingv1.Service) {
			container(s).Env = []corev1.EnvVar{{Name: serving.EnvPort, Value: "9999"}}
		}),
		wantField: "spec.template.spec.containers[0].env[0].name",
	}, {
		name: "queue-proxy port",
		service: service("reserved-port", func(s *servingv1.Service) {
			container(s).Ports = []corev1.ContainerPort{{ContainerPort: 8012}}
		}),
		wantField: "spec.template.spec.containers[0].ports[0].containerPort",
	}, {
		name:      "containerConcurrency above the limit",
		service:   service("cc", func(s *servingv1.Service) { s.Spec.Template.Spec.ContainerConcurrency = ptrTo[int64](1001) }),
		wantField: "spec.template.spec.containerConcurrency",
	}, {
		name:      "timeout above the maximum",
		service:   service("timeout", func(s *servingv1.Service) { s.Spec.Template.Spec.TimeoutSeconds = ptrTo[int64](99999) }),
		wantField: "spec.template.spec.timeoutSeconds",
	}, {
		name: "min-scale above max-scale",
		service: service("min-max", func(s *servingv1.Service) {
			s.Spec.Template.Annotations = map[string]string{
				serving.MinScaleAnnotation.String(): "5",
				serving.MaxScaleAnnotation.String(): "2",
			}
		}),
		wantField: "scale",
	}, {
		name:      "utilization above 100",
		service:   service("util", annotated(serving.TargetUtilizationPercentageAnnotation, "150")),
		wantField: serving.TargetUtilizationPercentageAnnotation.String(),
	}, {
		name:      "window below 6s",
		service:   service("window", annotated(serving.WindowAnnotation, "2s")),
		wantField: serving.WindowAnnotation.String(),
	}, {
		name:      "unknown autoscaling annotation",
		service:   service("typo", annotated("autoscaling.knative.dev/minscale-typo", "1")),
		wantField: "autoscaling.knative.dev/minscale-typo",
	}, {
		name:      "panic threshold below 110",
		service:   service("panic", annotated(serving.PanicThresholdPercentageAnnotation, "100")),
		wantField: serving.PanicThresholdPercentageAnnotation.String(),
	}, {
		name:      "revision name without the service prefix",
		service:   service("byo", func(s *servingv1.Service) { s.Spec.Template.Name = "other-v1" }),
		wantField: "spec.template.metadata.name",
	}, {
		name:      "host network",
		service:   service("hostnet", func(s *servingv1.Service) { s.Spec.Template.Spec.HostNetwork = true }),
		wantField: "hostNetwork",
	}, {
		name:      "name is not a DNS-1035 label",
		service:   service("1-starts-with-a-digit", func(*servingv1.Service) {}),
		wantField: "metadata.name",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.ServingV1().Services(ns).Create(ctx, tc.service, dryRun)
			if err == nil {
				t.Fatalf("the API server accepted the Service; want a refusal naming %s", tc.wantField)
			}
			msg := err.Error()
			if !strings.Contains(msg, "admission webhook") {
				t.Errorf("refused, but not by the webhook: %v", err)
			}
			if !strings.Contains(msg, tc.wantField) {
				t.Errorf("refusal does not name %s: %v", tc.wantField, err)
			}
		})
	}

	t.Run("Route target with both a revision and a configuration", func(t *testing.T) {
		_, err := client.ServingV1().Routes(ns).Create(ctx, &servingv1.Route{
			ObjectMeta: metav1.ObjectMeta{Name: "both", Namespace: ns},
			Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{
				RevisionName: "a-00001", ConfigurationName: "a", Percent: ptrTo[int64](100),
			}}},
		}, dryRun)
		if err == nil || !strings.Contains(err.Error(), "spec.traffic[0]") {
			t.Errorf("err = %v, want a refusal naming spec.traffic[0]", err)
		}
	})

	t.Run("PodAutoscaler without a scale target", func(t *testing.T) {
		_, err := client.AutoscalingV1alpha1().PodAutoscalers(ns).Create(ctx, &autoscalingv1alpha1.PodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "no-target", Namespace: ns},
		}, dryRun)
		if err == nil || !strings.Contains(err.Error(), "spec.scaleTargetRef") {
			t.Errorf("err = %v, want a refusal naming spec.scaleTargetRef", err)
		}
	})

	t.Run("Revision spec changed after creation", func(t *testing.T) {
		rev, err := client.ServingV1().Revisions(ns).Create(ctx, &servingv1.Revision{
			ObjectMeta: metav1.ObjectMeta{Name: "frozen-00001", Namespace: ns},
			Spec:       template("ko://flywheel.dev/examples/hello").Spec,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rev.Spec.Containers[0].Image = "ko://flywheel.dev/examples/other"
		_, err = client.ServingV1().Revisions(ns).Update(ctx, rev, metav1.UpdateOptions{})
		if err == nil || !strings.Contains(err.Error(), "spec") || !strings.Contains(err.Error(), "immutable") {
			t.Errorf("err = %v, want a refusal saying the spec is immutable", err)
		}
	})
}
