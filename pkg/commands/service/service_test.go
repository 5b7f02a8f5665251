package service

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/params"
)

const ns = commandstest.Namespace

// run runs `fw service ARGS...` against client's objects.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := commandstest.NewParams(t, objs...)
	out, err := commandstest.Run(t, NewServiceCommand(p), args...)
	return out, client, err
}

// svc is a Service as the platform reports it once ready.
func svc(name string, opts ...func(*servingv1.Service)) *servingv1.Service {
	s := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
		},
		Spec: servingv1.ServiceSpec{
			ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
				Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "user-container", Image: "ko://example.com/" + name,
					Env: []corev1.EnvVar{{Name: "TARGET", Value: "world"}},
				}}}},
			}},
			RouteSpec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}},
		},
	}
	s.Status.ObservedGeneration = 1
	s.Status.URL = &apis.URL{Scheme: "http", Host: name + "." + ns + ".example.com"}
	s.Status.LatestCreatedRevisionName = name + "-00001"
	s.Status.LatestReadyRevisionName = name + "-00001"
	s.Status.Conditions = duckv1.Conditions{
		{Type: servingv1.ServiceConditionConfigurationsReady, Status: corev1.ConditionTrue},
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue},
		{Type: servingv1.ServiceConditionRoutesReady, Status: corev1.ConditionTrue},
	}
	s.Status.Traffic = []servingv1.TrafficTarget{{RevisionName: name + "-00001", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func notReady(reason, message string) func(*servingv1.Service) {
	return func(s *servingv1.Service) {
		s.Status.LatestReadyRevisionName = ""
		s.Status.Traffic = nil
		for i := range s.Status.Conditions {
			c := &s.Status.Conditions[i]
			if c.Type != servingv1.ServiceConditionRoutesReady {
				c.Status, c.Reason, c.Message = corev1.ConditionFalse, reason, message
			}
		}
	}
}

// serveWatch makes the Services watch of client see events, in order.
func serveWatch(client *fake.Clientset, events ...*servingv1.Service) {
	w := watch.NewFakeWithChanSize(len(events), false)
	for _, e := range events {
		w.Modify(e)
	}
	client.PrependWatchReactor("services", k8stesting.DefaultWatchReactor(w, nil))
}

func getService(t *testing.T, client *fake.Clientset, name string) *servingv1.Service {
	t.Helper()
	got, err := client.ServingV1().Services(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting Service %s: %v", name, err)
	}
	return got
}

// writes lists the create and update calls the command made.
func writes(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" || a.GetVerb() == "update" || a.GetVerb() == "delete" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func checkContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

func TestCreateWithoutWaiting(t *testing.T) {
	out, client, err := run(t, nil, "create", "hello", "--image", "ko://example.com/hello",
		"--env", "TARGET=world", "--port", "8080", "--concurrency-limit", "10",
		"--scale-min", "1", "--scale-max", "5", "--scale-target", "50", "--annotation", "team=web",
		"--tag", "@latest=current", "--no-wait")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := "Created Service hello in namespace demo.\nNot waiting for it to become ready; see fw service describe hello -n demo\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
	got := getService(t, client, "hello")
	wantSpec := servingv1.ServiceSpec{
		ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
				"team":                               "web",
				serving.MinScaleAnnotation.String():  "1",
				serving.MaxScaleAnnotation.String():  "5",
				serving.TargetAnnotation.String():    "50",
				serving.UserImageAnnotation.String(): "ko://example.com/hello",
			}},
			Spec: servingv1.RevisionSpec{
				PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
					Image:           "ko://example.com/hello",
					Env:             []corev1.EnvVar{{Name: "TARGET", Value: "world"}},
					Ports:           []corev1.ContainerPort{{ContainerPort: 8080}},
					SecurityContext: strictSecurityContext(),
				}}},
				ContainerConcurrency: ptr.To[int64](10),
			},
		}},
		RouteSpec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{
			{Tag: "current", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
		}},
	}
	if diff := cmp.Diff(wantSpec, got.Spec); diff != "" {
		t.Errorf("created spec (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"team": "web"}, got.Annotations); diff != "" {
		t.Errorf("Service annotations (-want, +got):\n%s", diff)
	}
}

func TestCreateWaitsAndPrintsTheURL(t *testing.T) {
	p, client := commandstest.NewParams(t)
	serveWatch(client,
		svc("hello", notReadyUnknown),
		svc("hello"),
	)
	out, err := commandstest.Run(t, NewServiceCommand(p), "create", "hello", "--image", "ko://example.com/hello")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := `Created Service hello in namespace demo.
Waiting for Service hello to become ready...
Service hello is ready, latest revision hello-00001, at:
http://hello.demo.example.com
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func notReadyUnknown(s *servingv1.Service) {
	s.Status.URL = nil
	s.Status.LatestReadyRevisionName = ""
	for i := range s.Status.Conditions {
		s.Status.Conditions[i].Status = corev1.ConditionUnknown
	}
}

func TestCreateFailsWithTheReasonOfTheFailure(t *testing.T) {
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: ns}}
	rev.Status.Conditions = duckv1.Conditions{
		{Type: servingv1.RevisionConditionContainerHealthy, Status: corev1.ConditionFalse, Reason: "ContainerMissing",
			Message: `Unable to fetch image "example.com/nope": MANIFEST_UNKNOWN`},
		{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: "ContainerMissing"},
	}
	p, client := commandstest.NewParams(t, rev)
	serveWatch(client, svc("hello", notReady("RevisionFailed", `Revision "hello-00001" failed with message: Unable to fetch image.`)))
	out, err := commandstest.Run(t, NewServiceCommand(p), "create", "hello", "--image", "example.com/nope")
	if err == nil {
		t.Fatalf("create succeeded, want it to fail:\n%s", out)
	}
	checkContains(t, "the error", err.Error(),
		"Service hello failed: ConfigurationsReady is False (RevisionFailed)",
		`Revision hello-00001: ContainerHealthy is False (ContainerMissing): Unable to fetch image "example.com/nope": MANIFEST_UNKNOWN`)
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no image", []string{"create", "hello"}, "--image is required"},
		{"traffic not adding up", []string{"create", "hello", "--image", "x", "--traffic", "@latest=50"}, "--traffic @latest=50: the percentages add up to 50, not 100"},
		{"bad env", []string{"create", "hello", "--image", "x", "--env", "X"}, `--env "X"`},
		{"wait and no-wait", []string{"create", "hello", "--image", "x", "--wait", "--no-wait"}, "--wait and --no-wait contradict"},
		{"no name", []string{"create", "--image", "x"}, "give the name of one Service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, err := run(t, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to say %q", err, tc.want)
			}
			if w := writes(client); len(w) > 0 {
				t.Errorf("the command sent %v before refusing", w)
			}
		})
	}
}

func TestCreateAnExistingServiceSaysHowToChangeIt(t *testing.T) {
	_, _, err := run(t, []runtime.Object{svc("hello")}, "create", "hello", "--image", "x", "--no-wait")
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "fw service update hello") {
		t.Errorf("error = %v, want it to point at fw service update", err)
	}
}

func TestCreateUsesTheNamespaceFlagOverTheKubeconfig(t *testing.T) {
	_, client, err := run(t, nil, "create", "hello", "--image", "x", "--no-wait", "-n", "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ServingV1().Services("other").Get(t.Context(), "hello", metav1.GetOptions{}); err != nil {
		t.Errorf("the Service is not in namespace other: %v", err)
	}
}

func TestUpdateChangesOnlyWhatIsGiven(t *testing.T) {
	before := svc("hello", func(s *servingv1.Service) {
		s.Annotations = map[string]string{"team": "web"}
		s.Spec.Template.Annotations = map[string]string{serving.MinScaleAnnotation.String(): "1"}
		s.Spec.Template.Spec.ContainerConcurrency = ptr.To[int64](10)
	})
	out, client, err := run(t, []runtime.Object{before}, "update", "hello", "--env", "TARGET-", "--env", "MODE=fast", "--scale-max", "3", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	want := before.DeepCopy()
	want.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "fast"}}
	want.Spec.Template.Annotations[serving.MaxScaleAnnotation.String()] = "3"
	if diff := cmp.Diff(want, getService(t, client, "hello")); diff != "" {
		t.Errorf("updated Service (-want, +got):\n%s", diff)
	}
	checkContains(t, "the output", out, "Updated Service hello in namespace demo.")
}

func TestUpdateSplitsTrafficWithTags(t *testing.T) {
	before := svc("hello")
	_, client, err := run(t, []runtime.Object{before}, "update", "hello",
		"--tag", "hello-00001=stable,@latest=candidate", "--traffic", "stable=90,candidate=10", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	want := []servingv1.TrafficTarget{
		{Tag: "candidate", LatestRevision: ptr.To(true), Percent: ptr.To[int64](10)},
		{Tag: "stable", RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](90)},
	}
	if diff := cmp.Diff(want, getService(t, client, "hello").Spec.Traffic); diff != "" {
		t.Errorf("traffic (-want, +got):\n%s", diff)
	}
}

func TestUpdateWithNothingToChangeWritesNothing(t *testing.T) {
	out, client, err := run(t, []runtime.Object{svc("hello")}, "update", "hello", "--env", "TARGET=world", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	if w := writes(client); len(w) > 0 {
		t.Errorf("the command sent %v, want nothing", w)
	}
	checkContains(t, "the output", out, "Nothing to change in Service hello")
}

func TestUpdateAMissingServiceSaysHowToCreateIt(t *testing.T) {
	_, _, err := run(t, nil, "update", "hello", "--image", "x")
	if err == nil || !strings.Contains(err.Error(), "no Service hello in namespace demo") || !strings.Contains(err.Error(), "fw service create hello") {
		t.Errorf("error = %v, want it to point at fw service create", err)
	}
}

func TestApplyCreatesThenChangesNothing(t *testing.T) {
	p, client := commandstest.NewParams(t)
	args := []string{"apply", "hello", "--image", "ko://example.com/hello", "--env", "A=1", "--port", "8080",
		"--tag", "@latest=current", "--traffic", "@latest=100", "--no-wait"}
	out, err := commandstest.Run(t, NewServiceCommand(p), args...)
	if err != nil {
		t.Fatalf("first apply: %v\n%s", err, out)
	}
	checkContains(t, "the first apply", out, "Created Service hello")
	first := getService(t, client, "hello")

	client.ClearActions()
	out, err = commandstest.Run(t, NewServiceCommand(p), args...)
	if err != nil {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	checkContains(t, "the second apply", out, "Nothing to change in Service hello")
	if w := writes(client); len(w) > 0 {
		t.Errorf("the second apply sent %v, want nothing", w)
	}
	if diff := cmp.Diff(first, getService(t, client, "hello")); diff != "" {
		t.Errorf("the second apply changed the Service (-first, +now):\n%s", diff)
	}

	// What another command set, apply leaves alone; what an earlier
	// apply declared and this one does not, it removes.
	if out, err := commandstest.Run(t, NewServiceCommand(p), "update", "hello", "--annotation-service", "team=web", "--no-wait"); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if _, err := commandstest.Run(t, NewServiceCommand(p), "apply", "hello", "--env", "A=2", "--no-wait"); err == nil ||
		!strings.Contains(err.Error(), "--image is required: fw service apply declares the whole Service") {
		t.Errorf("apply without --image: %v, want it to say the image is part of what apply declares", err)
	}
	out, err = commandstest.Run(t, NewServiceCommand(p), "apply", "hello", "--image", "ko://example.com/hello", "--env", "A=2", "--no-wait")
	if err != nil {
		t.Fatalf("third apply: %v\n%s", err, out)
	}
	checkContains(t, "the third apply", out, "Updated Service hello")
	third := getService(t, client, "hello")
	if c := third.Spec.Template.Spec.Containers[0]; len(c.Env) != 1 || c.Env[0].Value != "2" || len(c.Ports) != 0 {
		t.Errorf("the container is %+v, want A=2 and no port, as the third apply declares", c)
	}
	if third.Spec.Traffic != nil {
		t.Errorf("traffic = %+v, want none, as the third apply declares", third.Spec.Traffic)
	}
	if third.Annotations["team"] != "web" {
		t.Errorf("annotations = %v, want team=web, which fw service update set, kept", third.Annotations)
	}
}

func TestDelete(t *testing.T) {
	out, client, err := run(t, []runtime.Object{svc("hello"), svc("bye")}, "delete", "hello", "bye", "nope")
	checkContains(t, "the output", out, "Deleted Service hello in namespace demo.\n", "Deleted Service bye in namespace demo.\n")
	if err == nil || !strings.Contains(err.Error(), "no Service nope in namespace demo") {
		t.Errorf("error = %v, want it to name the missing Service", err)
	}
	list, _ := client.ServingV1().Services(ns).List(t.Context(), metav1.ListOptions{})
	if len(list.Items) != 0 {
		t.Errorf("Services left: %v", list.Items)
	}
}

func TestDeleteWaitsUntilGone(t *testing.T) {
	p, client := commandstest.NewParams(t, svc("hello"))
	w := watch.NewFakeWithChanSize(1, false)
	w.Delete(svc("hello"))
	client.PrependWatchReactor("services", k8stesting.DefaultWatchReactor(w, nil))
	// The fake deletes at once; make the Get see the Service once more, as
	// a real API server would while finalizers run.
	var gets int
	client.PrependReactor("get", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		return gets == 1, svc("hello"), nil
	})
	out, err := commandstest.Run(t, NewServiceCommand(p), "delete", "hello", "--wait")
	if err != nil {
		t.Fatalf("delete --wait: %v\n%s", err, out)
	}
	checkContains(t, "the output", out, "Deleted Service hello")
}

// TestFlagErrorsComeBeforeConnecting: a malformed flag is reported as
// such even when no cluster could be reached.
func TestFlagErrorsComeBeforeConnecting(t *testing.T) {
	for _, verb := range []string{"create", "update", "apply"} {
		t.Run(verb, func(t *testing.T) {
			p := &params.Params{Kubeconfig: filepath.Join(t.TempDir(), "missing")}
			_, err := commandstest.Run(t, NewServiceCommand(p), verb, "hello", "--image", "x", "--traffic", "@latest=50")
			if err == nil || !strings.HasPrefix(err.Error(), "--traffic @latest=50:") {
				t.Errorf("error = %v, want the --traffic error", err)
			}
		})
	}
}

// strictSecurityContext is what kn's --security-context strict sets, and
// what fw service create gives a new Service by default.
func strictSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}
