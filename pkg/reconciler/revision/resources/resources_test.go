package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
)

type revOption func(*v1.Revision)

func revision(opts ...revOption) *v1.Revision {
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hello-00001", Namespace: "default", UID: "rev-uid",
			Labels: map[string]string{
				serving.ServiceLabel.String():       "hello",
				serving.ConfigurationLabel.String(): "hello",
			},
			Annotations: map[string]string{},
		},
		Spec: v1.RevisionSpec{
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  "user-container",
				Image: "ko://example.com/hello",
				Env:   []corev1.EnvVar{{Name: "TARGET", Value: "world"}},
			}}},
			ContainerConcurrency: ptr.To[int64](10),
			TimeoutSeconds:       ptr.To[int64](60),
		},
	}
	for _, o := range opts {
		o(rev)
	}
	return rev
}

func withPort(name string, port int32) revOption {
	return func(r *v1.Revision) {
		r.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: name, ContainerPort: port}}
	}
}

func withAnnotation(k, v string) revOption {
	return func(r *v1.Revision) { r.Annotations[k] = v }
}

func withReadiness(p *corev1.Probe) revOption {
	return func(r *v1.Revision) { r.Spec.Containers[0].ReadinessProbe = p }
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func container(t *testing.T, ps *corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range ps.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q in %v", name, ps.Containers)
	return corev1.Container{}
}

// TestSidecarReadsWhatTheReconcilerWrites is the contract between the
// two sides: the environment written on the sidecar container parses
// back, through the sidecar's own reader, into the configuration the
// reconciler meant.
func TestSidecarReadsWhatTheReconcilerWrites(t *testing.T) {
	for _, rev := range []*v1.Revision{
		revision(),
		revision(withPort("h2c", 9000), withAnnotation(queue.ModeAnnotation.String(), string(queue.ModeTransparent))),
		revision(withReadiness(&corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", HTTPHeaders: []corev1.HTTPHeader{{Name: "X", Value: "y"}}}},
			PeriodSeconds: 3,
		})),
	} {
		cfg := config.DefaultDeployment()
		want, err := QueueConfig(rev, cfg)
		if err != nil {
			t.Fatal(err)
		}
		obs := queue.Observability{TracingProtocol: "grpc", TracingEndpoint: "http://collector.observability:4317", TracingSamplingRate: "0.5"}
		want.Observability = obs
		c, err := MakeQueueContainer(rev, cfg, obs)
		if err != nil {
			t.Fatal(err)
		}
		env := envOf(c)
		env[queue.EnvPod.String()] = "hello-00001-deployment-abc" // the downward API's part
		got, err := queue.ConfigFromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("the sidecar refuses its environment: %v", err)
		}
		want.Pod = "hello-00001-deployment-abc"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("config read back (-want, +got):\n%s", diff)
		}
	}
}

func TestQueueConfig(t *testing.T) {
	tests := []struct {
		name  string
		rev   *v1.Revision
		check func(*testing.T, queue.Config)
	}{{
		name: "defaults: port mode, port 8080, http1, the app's TCP port probed",
		rev:  revision(),
		check: func(t *testing.T, qc queue.Config) {
			if qc.Mode != queue.ModePort || qc.UserPort != 8080 || qc.AppProtocol != queue.AppProtocolHTTP1 {
				t.Errorf("mode, port, protocol = %s, %d, %s", qc.Mode, qc.UserPort, qc.AppProtocol)
			}
			if diff := cmp.Diff(queue.DefaultProbe(), qc.ReadinessProbe); diff != "" {
				t.Errorf("probe (-want, +got):\n%s", diff)
			}
		},
	}, {
		name: "containerConcurrency and a queue of ten per slot",
		rev:  revision(),
		check: func(t *testing.T, qc queue.Config) {
			if qc.ContainerConcurrency != 10 || qc.QueueDepth != 100 {
				t.Errorf("concurrency, depth = %d, %d; want 10, 100", qc.ContainerConcurrency, qc.QueueDepth)
			}
		},
	}, {
		name: "timeouts from the spec",
		rev: revision(func(r *v1.Revision) {
			r.Spec.ResponseStartTimeoutSeconds = ptr.To[int64](5)
			r.Spec.IdleTimeoutSeconds = ptr.To[int64](7)
		}),
		check: func(t *testing.T, qc queue.Config) {
			if qc.RevisionTimeout != time.Minute || qc.ResponseStartTimeout != 5*time.Second || qc.IdleTimeout != 7*time.Second {
				t.Errorf("timeouts = %v, %v, %v", qc.RevisionTimeout, qc.ResponseStartTimeout, qc.IdleTimeout)
			}
		},
	}, {
		name: "an h2c port name makes the app protocol h2c",
		rev:  revision(withPort("h2c", 9000)),
		check: func(t *testing.T, qc queue.Config) {
			if qc.AppProtocol != queue.AppProtocolH2C || qc.UserPort != 9000 {
				t.Errorf("protocol, port = %s, %d", qc.AppProtocol, qc.UserPort)
			}
		},
	}, {
		name: "an HTTP readiness probe is handed to the sidecar",
		rev: revision(withReadiness(&corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}},
			FailureThreshold: 5,
		})),
		check: func(t *testing.T, qc queue.Config) {
			want := queue.ProbeSpec{HTTPGet: &queue.HTTPGetProbe{Path: "/healthz"}, FailureThreshold: 5}
			if diff := cmp.Diff(want, qc.ReadinessProbe); diff != "" {
				t.Errorf("probe (-want, +got):\n%s", diff)
			}
		},
	}, {
		name: "an exec readiness probe leaves the sidecar checking the port",
		rev:  revision(withReadiness(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}})),
		check: func(t *testing.T, qc queue.Config) {
			if diff := cmp.Diff(queue.DefaultProbe(), qc.ReadinessProbe); diff != "" {
				t.Errorf("probe (-want, +got):\n%s", diff)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qc, err := QueueConfig(tc.rev, config.DefaultDeployment())
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, qc)
		})
	}
}

func TestMakePodSpec(t *testing.T) {
	cfg := config.DefaultDeployment()
	t.Run("port mode", func(t *testing.T) {
		ps, err := MakePodSpec(revision(withReadiness(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}})), cfg, queue.Observability{})
		if err != nil {
			t.Fatal(err)
		}
		user := container(t, ps, "user-container")
		wantEnv := map[string]string{"PORT": "8080", "K_SERVICE": "hello", "K_CONFIGURATION": "hello", "K_REVISION": "hello-00001", "TARGET": "world"}
		if diff := cmp.Diff(wantEnv, envOf(user)); diff != "" {
			t.Errorf("app env (-want, +got):\n%s", diff)
		}
		if user.ReadinessProbe != nil {
			t.Errorf("app readiness probe = %+v, want it handed to the sidecar", user.ReadinessProbe)
		}
		sidecar := container(t, ps, queue.ContainerName)
		if sidecar.Image != config.DefaultQueueSidecarImage || sidecar.ReadinessProbe.HTTPGet.Path != queue.ReadyPath {
			t.Errorf("sidecar image %q, readiness %+v", sidecar.Image, sidecar.ReadinessProbe)
		}
		// Knative's queue-proxy's security context, the restricted Pod
		// Security Standard's.
		wantSC := &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}
		if diff := cmp.Diff(wantSC, sidecar.SecurityContext); diff != "" {
			t.Errorf("sidecar securityContext (-want, +got):\n%s", diff)
		}
		if len(ps.InitContainers) != 0 {
			t.Errorf("init containers = %v, want none in port mode", ps.InitContainers)
		}
		if got, want := *ps.TerminationGracePeriodSeconds, int64(65); got != want {
			t.Errorf("termination grace = %d, want %d (drain window + timeout)", got, want)
		}
	})
	t.Run("transparent mode", func(t *testing.T) {
		ps, err := MakePodSpec(revision(withAnnotation(queue.ModeAnnotation.String(), string(queue.ModeTransparent))), cfg, queue.Observability{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps.InitContainers) != 1 || ps.InitContainers[0].Name != InitContainerName {
			t.Fatalf("init containers = %v, want %s", ps.InitContainers, InitContainerName)
		}
		wantArgs := []string{"iptables", "--app-port", "8080", "--intercept-port", "8013", "--exclude-uid", "1337"}
		if diff := cmp.Diff(wantArgs, ps.InitContainers[0].Args); diff != "" {
			t.Errorf("init args (-want, +got):\n%s", diff)
		}
		if caps := ps.InitContainers[0].SecurityContext.Capabilities.Add; !cmp.Equal(caps, []corev1.Capability{"NET_ADMIN", "NET_RAW"}) {
			t.Errorf("init capabilities = %v, want NET_ADMIN and NET_RAW", caps)
		}
		if uid := container(t, ps, queue.ContainerName).SecurityContext.RunAsUser; uid == nil || *uid != queue.SidecarUID {
			t.Errorf("sidecar uid = %v, want %d, which the rules exempt", uid, queue.SidecarUID)
		}
	})
	t.Run("exec readiness probe stays with the kubelet; liveness gets the app port", func(t *testing.T) {
		rev := revision(withReadiness(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}))
		rev.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/live"}}}
		ps, err := MakePodSpec(rev, cfg, queue.Observability{})
		if err != nil {
			t.Fatal(err)
		}
		user := container(t, ps, "user-container")
		if user.ReadinessProbe == nil || user.ReadinessProbe.Exec == nil {
			t.Errorf("readiness probe = %+v, want the exec probe kept", user.ReadinessProbe)
		}
		if got := user.LivenessProbe.HTTPGet.Port; got != intstr.FromInt32(8080) {
			t.Errorf("liveness port = %v, want 8080", got)
		}
	})
	t.Run("a port given by name only listens on the default port with that protocol", func(t *testing.T) {
		for _, name := range []string{serving.PortNameH2C, serving.PortNameHTTP1} {
			// Stored before admission defaulted the number: a Deployment
			// refuses a container port without one.
			rev := revision(withPort(name, 0))
			ps, err := MakePodSpec(rev, cfg, queue.Observability{})
			if err != nil {
				t.Fatal(err)
			}
			user := container(t, ps, "user-container")
			if diff := cmp.Diff([]corev1.ContainerPort{{Name: name, ContainerPort: 8080}}, user.Ports); diff != "" {
				t.Errorf("%s: app ports (-want, +got):\n%s", name, diff)
			}
			if got := envOf(user)["PORT"]; got != "8080" {
				t.Errorf("%s: PORT = %q, want 8080", name, got)
			}
			if got := rev.Spec.Containers[0].Ports[0].ContainerPort; got != 0 {
				t.Errorf("%s: the Revision's own spec changed to port %d", name, got)
			}
			qc, err := QueueConfig(rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if qc.UserPort != 8080 || string(qc.AppProtocol) != name {
				t.Errorf("%s: sidecar speaks %s to port %d, want %s to 8080", name, qc.AppProtocol, qc.UserPort, name)
			}
		}
	})
	t.Run("only the serving container gets PORT", func(t *testing.T) {
		rev := revision(withPort("", 8081))
		rev.Spec.Containers = append(rev.Spec.Containers, corev1.Container{Name: "helper", Image: "h"})
		ps, err := MakePodSpec(rev, cfg, queue.Observability{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := envOf(container(t, ps, "helper"))["PORT"]; ok {
			t.Error("the helper container got PORT")
		}
		if got := envOf(container(t, ps, "user-container"))["PORT"]; got != "8081" {
			t.Errorf("PORT = %q, want 8081", got)
		}
	})
}

func TestMakeDeployment(t *testing.T) {
	tests := []struct {
		name         string
		rev          *v1.Revision
		wantReplicas int32
	}{
		{name: "initial scale from the cluster default", rev: revision(), wantReplicas: 1},
		{name: "initial scale annotation", rev: revision(withAnnotation(serving.InitialScaleAnnotation.String(), "3")), wantReplicas: 3},
		{name: "min-scale above the initial scale", rev: revision(withAnnotation(serving.MinScaleAnnotation.String(), "4")), wantReplicas: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := MakeDeployment(tc.rev, config.DefaultDeployment(), config.DefaultAutoscaler(), queue.Observability{})
			if err != nil {
				t.Fatal(err)
			}
			if *d.Spec.Replicas != tc.wantReplicas {
				t.Errorf("replicas = %d, want %d", *d.Spec.Replicas, tc.wantReplicas)
			}
			if d.Name != "hello-00001-deployment" || d.OwnerReferences[0].Name != "hello-00001" || !*d.OwnerReferences[0].Controller {
				t.Errorf("name %q, owner %+v", d.Name, d.OwnerReferences)
			}
			if diff := cmp.Diff(map[string]string{serving.RevisionUIDLabel.String(): "rev-uid"}, d.Spec.Selector.MatchLabels); diff != "" {
				t.Errorf("selector (-want, +got):\n%s", diff)
			}
			if d.Spec.Template.Labels[serving.RevisionLabel.String()] != "hello-00001" {
				t.Errorf("pod labels = %v, want the revision label", d.Spec.Template.Labels)
			}
		})
	}
}

// TestPodRunsResolvedDigestsOnly holds the rule that makes a Revision's
// pod template final when its Deployment is created: only a digest the
// Revision was resolved to replaces its image; a digest a node reported
// later is a record and changes nothing the pods run.
func TestPodRunsResolvedDigestsOnly(t *testing.T) {
	skipping := config.DefaultDeployment()
	skipping.RegistriesSkippingTagResolving = append(skipping.RegistriesSkippingTagResolving, "registry.example")
	tests := []struct {
		name   string
		image  string
		digest string
		cfg    *config.Deployment
		want   string
	}{{
		name:   "a registry's tag runs by the digest it resolved to",
		image:  "registry.example/hello:v1",
		digest: "registry.example/hello@sha256:abc",
		cfg:    config.DefaultDeployment(),
		want:   "registry.example/hello@sha256:abc",
	}, {
		name:  "a registry's tag not resolved yet runs as written",
		image: "registry.example/hello:v1",
		cfg:   config.DefaultDeployment(),
		want:  "registry.example/hello:v1",
	}, {
		name:   "a skipped registry's tag runs as written, whatever the node reported",
		image:  "kind.local/app:latest",
		digest: "kind.local/app:latest@sha256:abc",
		cfg:    config.DefaultDeployment(),
		want:   "kind.local/app:latest",
	}, {
		name:   "a ko:// image runs as written",
		image:  "ko://example.com/hello",
		digest: "ko://example.com/hello@sha256:abc",
		cfg:    config.DefaultDeployment(),
		want:   "ko://example.com/hello",
	}, {
		name:   "a path runs as written",
		image:  "/usr/local/bin/app",
		digest: "/usr/local/bin/app@sha256:abc",
		cfg:    config.DefaultDeployment(),
		want:   "/usr/local/bin/app",
	}, {
		// The list is read when the Deployment is built.
		name:   "a registry added to the skipped ones runs its tags as written",
		image:  "registry.example/hello:v1",
		digest: "registry.example/hello@sha256:abc",
		cfg:    skipping,
		want:   "registry.example/hello:v1",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rev := revision(func(r *v1.Revision) {
				r.Spec.Containers[0].Image = tc.image
				r.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "user-container", ImageDigest: tc.digest}}
			})
			ps, err := MakePodSpec(rev, tc.cfg, queue.Observability{})
			if err != nil {
				t.Fatal(err)
			}
			if got := container(t, ps, "user-container").Image; got != tc.want {
				t.Errorf("the pod runs %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAppStopsAfterTheSidecarDrains checks that every app container's
// preStop hook waits on the sidecar's drain, so that the app is told to
// stop only after the last request the sidecar forwards.
func TestAppStopsAfterTheSidecarDrains(t *testing.T) {
	ps, err := MakePodSpec(revision(), config.DefaultDeployment(), queue.Observability{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ps.Containers {
		if c.Name == queue.ContainerName {
			if c.Lifecycle != nil {
				t.Errorf("the sidecar has a lifecycle hook %+v; it drains on SIGTERM by itself", c.Lifecycle)
			}
			continue
		}
		want := &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: queue.DrainPath, Port: intstr.FromInt32(queue.AdminPort), Scheme: corev1.URISchemeHTTP,
		}}}
		if diff := cmp.Diff(want, c.Lifecycle); diff != "" {
			t.Errorf("container %s lifecycle (-want, +got):\n%s", c.Name, diff)
		}
	}
}

// TestDeploymentIgnoresRouting checks that a Route starting to send
// traffic to a Revision leaves its Deployment as it was: a changed pod
// template would roll the Revision's pods over for nothing.
func TestDeploymentIgnoresRouting(t *testing.T) {
	pending := revision(withAnnotation(serving.RoutingStateModifiedAnnotation.String(), "2026-11-29T21:52:07Z"))
	pending.Labels[serving.RoutingStateLabel.String()] = string(serving.RoutingStatePending)
	active := revision(
		withAnnotation(serving.RoutingStateModifiedAnnotation.String(), "2026-11-29T21:52:12Z"),
		withAnnotation(serving.RoutesAnnotation.String(), "hello"))
	active.Labels[serving.RoutingStateLabel.String()] = string(serving.RoutingStateActive)
	active.Labels[serving.RouteLabel.String()] = "hello"

	before, err := MakeDeployment(pending, config.DefaultDeployment(), config.DefaultAutoscaler(), queue.Observability{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := MakeDeployment(active, config.DefaultDeployment(), config.DefaultAutoscaler(), queue.Observability{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the Deployment changed with the routing state (-pending, +active):\n%s", diff)
	}
}

func TestServices(t *testing.T) {
	tests := []struct {
		name       string
		rev        *v1.Revision
		wantTarget int32
		wantName   string
	}{
		{name: "port mode sends requests to the sidecar", rev: revision(), wantTarget: queue.ServingPort, wantName: "http"},
		{name: "transparent mode sends them to the app's port", rev: revision(withAnnotation(queue.ModeAnnotation.String(), string(queue.ModeTransparent))), wantTarget: 8080, wantName: "http"},
		{name: "h2c apps get an http2 port", rev: revision(withPort("h2c", 9000)), wantTarget: queue.ServingPort, wantName: "http2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			priv, pub := MakePrivateService(tc.rev), MakePublicService(tc.rev)
			if pub.Spec.Selector != nil {
				t.Errorf("public selector = %v, want none: its endpoints are written by the platform", pub.Spec.Selector)
			}
			if priv.Spec.Selector[serving.RevisionUIDLabel.String()] != "rev-uid" {
				t.Errorf("private selector = %v", priv.Spec.Selector)
			}
			for _, svc := range []*corev1.Service{priv, pub} {
				p := svc.Spec.Ports[0]
				if p.Port != 80 || p.TargetPort.IntValue() != int(tc.wantTarget) || p.Name != tc.wantName {
					t.Errorf("%s: request port %+v, want 80 → %d named %s", svc.Name, p, tc.wantTarget, tc.wantName)
				}
			}
			if pub.Name != "hello-00001" || priv.Name != "hello-00001-private" {
				t.Errorf("names = %s, %s", pub.Name, priv.Name)
			}
		})
	}
}

func TestMakePodAutoscaler(t *testing.T) {
	tests := []struct {
		state serving.RoutingState
		want  autoscalingv1alpha1.ReachabilityType
	}{
		{state: serving.RoutingStateActive, want: autoscalingv1alpha1.ReachabilityReachable},
		{state: serving.RoutingStateReserve, want: autoscalingv1alpha1.ReachabilityUnreachable},
		{state: serving.RoutingStatePending, want: autoscalingv1alpha1.ReachabilityUnknown},
	}
	for _, tc := range tests {
		t.Run(string(tc.state), func(t *testing.T) {
			rev := revision(func(r *v1.Revision) { r.Labels[serving.RoutingStateLabel.String()] = string(tc.state) })
			pa := MakePodAutoscaler(rev)
			if pa.Spec.Reachability != tc.want {
				t.Errorf("reachability = %q, want %q", pa.Spec.Reachability, tc.want)
			}
			if pa.Spec.ScaleTargetRef.Name != "hello-00001-deployment" || pa.Spec.ContainerConcurrency != 10 {
				t.Errorf("spec = %+v", pa.Spec)
			}
		})
	}
}
