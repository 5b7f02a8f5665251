package revision

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	fakedynamicclient "knative.dev/pkg/injection/clients/dynamicclient/fake"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	revisionreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/revision"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/revision/resources"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	ns      = "default"
	revName = "hello-00001"
	testKey = ns + "/" + revName
	image   = "ko://example.com/hello"
	// skippedImage is of a registry in registries-skipping-tag-resolving
	// by default.
	skippedImage = "kind.local/app:latest"
)

// rev is the Revision of every row, with opts applied.
func rev(opts ...fwtesting.RevisionOption) *v1.Revision {
	base := []fwtesting.RevisionOption{
		fwtesting.WithRevisionImage(image),
		fwtesting.WithRevisionLabels(map[string]string{
			serving.ConfigurationLabel.String(): "hello",
			serving.ServiceLabel.String():       "hello",
		}),
		func(r *v1.Revision) {
			r.Spec.Containers[0].Name = "user-container"
			r.Generation = 1
		},
	}
	r := fwtesting.Revision(revName, ns, append(base, opts...)...)
	// As the webhook stored it; the generated reconciler defaults again.
	r.SetDefaults(context.Background())
	return r
}

// status is the Revision after reconciliation: rev with the conditions
// mark sets on top of the initial ones.
func status(mark func(*v1.RevisionStatus)) *v1.Revision {
	return statusOf(rev(), mark)
}

// statusOf is status for the Revision r: its images resolved (none of
// them pinned, unless mark says so), then the conditions mark sets on top
// of the initial ones.
func statusOf(r *v1.Revision, mark func(*v1.RevisionStatus)) *v1.Revision {
	WithResolved()(r)
	r.Status.InitializeConditions()
	r.Status.ObservedGeneration = 1
	r.Status.MarkActiveUnknown(v1.ReasonDeploying, "")
	mark(&r.Status)
	return r
}

// WithResolved records the resolution of the Revision's images, done once
// before its Deployment: a digest for each container in order, "" for one
// that runs as written. Missing digests are "".
func WithResolved(digests ...string) fwtesting.RevisionOption {
	return func(r *v1.Revision) {
		r.Status.ContainerStatuses = make([]v1.ContainerStatus, len(r.Spec.Containers))
		for i, c := range r.Spec.Containers {
			r.Status.ContainerStatuses[i].Name = c.Name
			if i < len(digests) {
				r.Status.ContainerStatuses[i].ImageDigest = digests[i]
			}
		}
	}
}

// WithSidecar adds a second container, name running image, beside the
// app, which then declares its port so that it stays the one serving.
func WithSidecar(name, image string) fwtesting.RevisionOption {
	return func(r *v1.Revision) {
		r.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		r.Spec.Containers = append(r.Spec.Containers, corev1.Container{Name: name, Image: image})
	}
}

func deployment(opts ...func(*appsv1.Deployment)) *appsv1.Deployment {
	return deploymentOf(rev(), opts...)
}

// deploymentOf is the Deployment made of r as it stands, with opts
// applied.
func deploymentOf(r *v1.Revision, opts ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d, err := resources.MakeDeployment(r, config.DefaultDeployment(), config.DefaultAutoscaler(), queue.Observability{})
	if err != nil {
		panic(err)
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// runs panics unless d's containers run images, in order: a row's
// expected Deployment states what its pods run, not only how it is built.
func runs(images ...string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		for i, image := range images {
			if got := d.Spec.Template.Spec.Containers[i].Image; got != image {
				panic(fmt.Sprintf("container %d runs %q, want %q", i, got, image))
			}
		}
	}
}

// reporting is a running pod of the Revision whose node reports, for each
// container, the image as given and the digest it ran.
func reporting(r *v1.Revision, digest string) *corev1.Pod {
	return pod(func(p *corev1.Pod) {
		for _, c := range r.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, ImageID: digest, Ready: true,
			})
		}
	})
}

func progressing(status corev1.ConditionStatus, ready int32) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Status.ReadyReplicas = ready
		d.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: status, Message: "ReplicaSet has timed out progressing.",
		}}
	}
}

func pod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: revName + "-deployment-abc", Namespace: ns, Labels: resources.Labels(rev())},
	}
	mutate(p)
	return p
}

func waiting(reason, message string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "user-container", Image: image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
		}}
	}
}

// children are the objects a reconciled Revision owns.
func children() []runtime.Object {
	r := rev()
	return []runtime.Object{resources.MakePrivateService(r), resources.MakePublicService(r), resources.MakePodAutoscaler(r)}
}

func objects(objs ...runtime.Object) []runtime.Object { return objs }

func TestReconcile(t *testing.T) {
	table := rtesting.TableTest{{
		Name: "a missing Revision is nothing to do",
		Key:  testKey,
	}, {
		Name:    "first reconcile creates the Deployment, Services and PodAutoscaler",
		Key:     testKey,
		Objects: objects(rev()),
		// Flywheel's clientset's actions are listed before Kubernetes'.
		WantCreates: []runtime.Object{
			resources.MakePodAutoscaler(rev()),
			deployment(),
			resources.MakePrivateService(rev()),
			resources.MakePublicService(rev()),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "")
			s.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
			s.ActualReplicas = ptrTo[int32](0)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", revName+"-deployment")},
	}, {
		Name: "a ready pod makes the Revision ready, with its image digest",
		Key:  testKey,
		Objects: append(objects(rev(), deployment(progressing(corev1.ConditionTrue, 1)),
			pod(func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "user-container", Image: image, ImageID: "sha256:abc", Ready: true}}
			})), children()...),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableTrue()
			s.MarkContainerHealthyTrue()
			s.ActualReplicas = ptrTo[int32](1)
			s.ContainerStatuses = []v1.ContainerStatus{{Name: "user-container", ImageDigest: image + "@sha256:abc"}}
		})}},
	}, {
		Name:    "an image that cannot be pulled fails the resources with the image named",
		Key:     testKey,
		Objects: append(objects(rev(), deployment(), pod(waiting("ErrImagePull", "not found"))), children()...),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableFalse("ErrImagePull", `Unable to fetch image "`+image+`": not found`)
			s.MarkContainerHealthyUnknown("ErrImagePull", "waiting for the pods to start")
			s.ActualReplicas = ptrTo[int32](0)
		})}},
	}, {
		Name: "a crashing app fails its health with the exit code and last log line",
		Key:  testKey,
		Objects: append(objects(rev(), deployment(), pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{
				Name: "user-container", Image: image, RestartCount: 3,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 2, Message: "starting\npanic: no DATABASE_URL\n",
				}},
			}}
		})), children()...),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "")
			s.MarkContainerHealthyFalse(v1.ReasonExitCode, "Container user-container failed with exit code 2: panic: no DATABASE_URL")
			s.ActualReplicas = ptrTo[int32](0)
		})}},
	}, {
		Name: "an unschedulable pod fails the resources",
		Key:  testKey,
		Objects: append(objects(rev(), deployment(), pod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
				Message: "0/1 nodes are available: 1 Insufficient cpu.",
			}}
		})), children()...),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableFalse(v1.ReasonUnschedulable, "0/1 nodes are available: 1 Insufficient cpu.")
			s.MarkContainerHealthyUnknown(v1.ReasonUnschedulable, "waiting for the pods to start")
			s.ActualReplicas = ptrTo[int32](0)
		})}},
	}, {
		Name:    "a Deployment past its progress deadline fails the resources",
		Key:     testKey,
		Objects: append(objects(rev(), deployment(progressing(corev1.ConditionFalse, 0))), children()...),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableFalse(v1.ReasonProgressDeadlineExceeded, "ReplicaSet has timed out progressing.")
			s.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
			s.ActualReplicas = ptrTo[int32](0)
		})}},
	}, {
		Name: "a Deployment of the same name owned by another is not taken over",
		Key:  testKey,
		Objects: append(objects(rev(), deployment(func(d *appsv1.Deployment) {
			d.OwnerReferences = nil
		})), children()...),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: func() *v1.Revision {
			r := rev(WithResolved())
			r.Status.InitializeConditions()
			r.Status.ObservedGeneration = 1
			r.Status.MarkResourcesAvailableFalse(ReasonNotOwned, `There is an existing Deployment "hello-00001-deployment" that we do not own.`)
			return r
		}()}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			`revision hello-00001: There is an existing Deployment "hello-00001-deployment" that we do not own.`)},
	}, {
		Name: "a Deployment changed by hand is put back, keeping its replicas",
		Key:  testKey,
		Objects: append(objects(rev(), deployment(progressing(corev1.ConditionTrue, 1), func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "someone/else"
			d.Spec.Replicas = ptrTo[int32](5)
		})), children()...),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: deployment(progressing(corev1.ConditionTrue, 1), func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptrTo[int32](5)
		})}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableTrue()
			s.MarkContainerHealthyTrue()
			s.ActualReplicas = ptrTo[int32](1)
		})}},
	}, {
		Name: "a new queue-proxy image in config-deployment rolls the Deployment",
		Key:  testKey,
		Objects: append(objects(rev(), deployment(progressing(corev1.ConditionTrue, 1)),
			fwtesting.ConfigMap(config.DeploymentConfigName, map[string]string{"queue-sidecar-image": "registry.example/queue:v2"})),
			children()...),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: func() *appsv1.Deployment {
			cfg := config.DefaultDeployment()
			cfg.QueueSidecarImage = "registry.example/queue:v2"
			d, _ := resources.MakeDeployment(rev(), cfg, config.DefaultAutoscaler(), queue.Observability{})
			progressing(corev1.ConditionTrue, 1)(d)
			return d
		}()}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableTrue()
			s.MarkContainerHealthyTrue()
			s.ActualReplicas = ptrTo[int32](1)
		})}},
	}, {
		Name:    "an image resolved to a digest is what the pods run",
		Key:     testKey,
		Objects: objects(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"))),
		WantCreates: []runtime.Object{
			resources.MakePodAutoscaler(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"))),
			func() *appsv1.Deployment {
				r := rev(fwtesting.WithRevisionImage("registry.example/hello:v1"))
				r.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "user-container", ImageDigest: "registry.example/hello@sha256:abc"}}
				d, _ := resources.MakeDeployment(r, config.DefaultDeployment(), config.DefaultAutoscaler(), queue.Observability{})
				if d.Spec.Template.Spec.Containers[0].Image != "registry.example/hello@sha256:abc" {
					panic("the pod does not run the digest")
				}
				return d
			}(),
			resources.MakePrivateService(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"))),
			resources.MakePublicService(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"))),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: func() *v1.Revision {
			r := status(func(s *v1.RevisionStatus) {
				s.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "")
				s.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
				s.ActualReplicas = ptrTo[int32](0)
				s.ContainerStatuses = []v1.ContainerStatus{{Name: "user-container", ImageDigest: "registry.example/hello@sha256:abc"}}
			})
			r.Spec.Containers[0].Image = "registry.example/hello:v1"
			return r
		}()}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", revName+"-deployment")},
	}, {
		// kind.local/app:latest, mapped to an executable by the node's
		// images ConfigMap: no registry answers for it, so its pods run
		// the tag, from the first pod on.
		Name:    "an image of a registry skipping tag resolving: the Deployment is created once, running the tag",
		Key:     testKey,
		Objects: objects(rev(fwtesting.WithRevisionImage(skippedImage))),
		WantCreates: []runtime.Object{
			resources.MakePodAutoscaler(rev(fwtesting.WithRevisionImage(skippedImage))),
			deploymentOf(rev(fwtesting.WithRevisionImage(skippedImage)), runs(skippedImage)),
			resources.MakePrivateService(rev(fwtesting.WithRevisionImage(skippedImage))),
			resources.MakePublicService(rev(fwtesting.WithRevisionImage(skippedImage))),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: statusOf(rev(fwtesting.WithRevisionImage(skippedImage)), func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "")
			s.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
			s.ActualReplicas = ptrTo[int32](0)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", revName+"-deployment")},
	}, {
		Name: "the digest a node reports for an image of a skipped registry is recorded, the Deployment left as created",
		Key:  testKey,
		Objects: append(objects(
			rev(fwtesting.WithRevisionImage(skippedImage), WithResolved()),
			deploymentOf(rev(fwtesting.WithRevisionImage(skippedImage)), progressing(corev1.ConditionTrue, 1)),
			reporting(rev(fwtesting.WithRevisionImage(skippedImage)), "sha256:abc"),
		), children()...),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: statusOf(rev(fwtesting.WithRevisionImage(skippedImage)), func(s *v1.RevisionStatus) {
			s.MarkResourcesAvailableTrue()
			s.MarkContainerHealthyTrue()
			s.ActualReplicas = ptrTo[int32](1)
			s.ContainerStatuses[0].ImageDigest = "kind.local/app:latest@sha256:abc"
		})}},
	}, {
		// The pass after the one above: the recorded digest is no reason
		// for a second ReplicaSet and a second cold start.
		Name: "a recorded digest of an image of a skipped registry leaves the Deployment's pod template as created",
		Key:  testKey,
		Objects: append(objects(
			statusOf(rev(fwtesting.WithRevisionImage(skippedImage)), func(s *v1.RevisionStatus) {
				s.MarkResourcesAvailableTrue()
				s.MarkContainerHealthyTrue()
				s.ActualReplicas = ptrTo[int32](1)
				s.ContainerStatuses[0].ImageDigest = "kind.local/app:latest@sha256:abc"
			}),
			deploymentOf(rev(fwtesting.WithRevisionImage(skippedImage)), progressing(corev1.ConditionTrue, 1), runs(skippedImage)),
			reporting(rev(fwtesting.WithRevisionImage(skippedImage)), "sha256:abc"),
		), children()...),
	}, {
		Name:    "a resolved image runs by digest and a skipped registry's image beside it by tag, from the first Deployment",
		Key:     testKey,
		Objects: objects(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"), WithSidecar("proxy", skippedImage))),
		WantCreates: []runtime.Object{
			resources.MakePodAutoscaler(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"), WithSidecar("proxy", skippedImage))),
			deploymentOf(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"), WithSidecar("proxy", skippedImage),
				WithResolved("registry.example/hello@sha256:abc")), runs("registry.example/hello@sha256:abc", skippedImage)),
			resources.MakePrivateService(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"), WithSidecar("proxy", skippedImage))),
			resources.MakePublicService(rev(fwtesting.WithRevisionImage("registry.example/hello:v1"), WithSidecar("proxy", skippedImage))),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: statusOf(
			rev(fwtesting.WithRevisionImage("registry.example/hello:v1"), WithSidecar("proxy", skippedImage)), func(s *v1.RevisionStatus) {
				s.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "")
				s.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
				s.ActualReplicas = ptrTo[int32](0)
				s.ContainerStatuses[0].ImageDigest = "registry.example/hello@sha256:abc"
			})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", revName+"-deployment")},
	}, {
		Name:    "an image the registry does not know fails the Revision with the image named",
		Key:     testKey,
		Objects: objects(rev(fwtesting.WithRevisionImage("registry.example/missing:v1"))),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: func() *v1.Revision {
			r := rev(fwtesting.WithRevisionImage("registry.example/missing:v1"))
			r.Status.InitializeConditions()
			r.Status.ObservedGeneration = 1
			msg := `Unable to fetch image "registry.example/missing:v1": MANIFEST_UNKNOWN`
			r.Status.MarkContainerHealthyFalse(v1.ReasonContainerMissing, msg)
			r.Status.MarkResourcesAvailableFalse(v1.ReasonContainerMissing, msg)
			return r
		}()}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			`revision hello-00001: Unable to fetch image "registry.example/missing:v1": MANIFEST_UNKNOWN`)},
	}, {
		Name: "a Revision stored with a port given by name only gets a Deployment on the default port",
		Key:  testKey,
		// Stored before admission filled in the number; the API server
		// refuses a Deployment whose container port has none.
		Objects:      objects(unnumbered(rev())),
		WithReactors: []clientgotesting.ReactionFunc{refuseUnnumberedPorts},
		WantCreates: []runtime.Object{
			resources.MakePodAutoscaler(unnumbered(rev())),
			func() *appsv1.Deployment {
				d, _ := resources.MakeDeployment(unnumbered(rev()), config.DefaultDeployment(), config.DefaultAutoscaler(), queue.Observability{})
				if p := d.Spec.Template.Spec.Containers[0].Ports; len(p) != 1 || p[0].ContainerPort != 8080 || p[0].Name != "h2c" {
					panic("the app's port is not 8080 with its name")
				}
				return d
			}(),
			resources.MakePrivateService(unnumbered(rev())),
			resources.MakePublicService(unnumbered(rev())),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: func() *v1.Revision {
			r := status(func(s *v1.RevisionStatus) {
				s.MarkResourcesAvailableUnknown(v1.ReasonDeploying, "")
				s.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
				s.ActualReplicas = ptrTo[int32](0)
			})
			return unnumbered(r)
		}()}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", revName+"-deployment")},
	}, {
		Name:         "a Deployment the API server refuses fails the Revision with the server's message",
		Key:          testKey,
		Objects:      objects(rev()),
		WithReactors: []clientgotesting.ReactionFunc{refuse("create", "deployments", invalidDeployment)},
		WantErr:      true,
		WantCreates:  []runtime.Object{deployment()},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: failed(func(s *v1.RevisionStatus) {
			s.MarkResourceCreateFailed("Deployment", revName+"-deployment", invalidDeployment.Error())
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"creating Deployment %s-deployment: %v", revName, invalidDeployment)},
	}, {
		Name:         "a Service a quota refuses fails the Revision with the server's message",
		Key:          testKey,
		Objects:      objects(rev(), deployment()),
		WithReactors: []clientgotesting.ReactionFunc{refuse("create", "services", overQuota)},
		WantErr:      true,
		WantCreates:  []runtime.Object{resources.MakePrivateService(rev())},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: failed(func(s *v1.RevisionStatus) {
			s.MarkResourceCreateFailed("Service", resources.MakePrivateService(rev()).Name, overQuota.Error())
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"creating Service %s: %v", resources.MakePrivateService(rev()).Name, overQuota)},
	}, {
		Name:         "a PodAutoscaler that cannot be created fails the Revision with the error",
		Key:          testKey,
		Objects:      objects(rev(), deployment(), resources.MakePrivateService(rev()), resources.MakePublicService(rev())),
		WithReactors: []clientgotesting.ReactionFunc{rtesting.InduceFailure("create", "podautoscalers")},
		WantErr:      true,
		WantCreates:  []runtime.Object{resources.MakePodAutoscaler(rev())},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: failed(func(s *v1.RevisionStatus) {
			s.MarkResourceCreateFailed("PodAutoscaler", revName, "inducing failure for create podautoscalers")
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"creating PodAutoscaler %s: inducing failure for create podautoscalers", revName)},
	}, {
		Name: "a Deployment update the API server refuses fails a ready Revision with the server's message",
		Key:  testKey,
		Objects: append(objects(ready(), deployment(progressing(corev1.ConditionTrue, 1), func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "someone/else"
		})), children()...),
		WithReactors: []clientgotesting.ReactionFunc{refuse("update", "deployments", invalidDeployment)},
		WantErr:      true,
		WantUpdates:  []clientgotesting.UpdateActionImpl{{Object: deployment(progressing(corev1.ConditionTrue, 1))}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: func() *v1.Revision {
			r := ready()
			r.Status.MarkResourceUpdateFailed("Deployment", revName+"-deployment", invalidDeployment.Error())
			return r
		}()}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"updating Deployment %s-deployment: %v", revName, invalidDeployment)},
	}, {
		Name: "a conflict updating the Deployment is retried and leaves a ready Revision ready",
		Key:  testKey,
		Objects: append(objects(ready(), deployment(progressing(corev1.ConditionTrue, 1), func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "someone/else"
		})), children()...),
		WithReactors: []clientgotesting.ReactionFunc{refuse("update", "deployments",
			apierrs.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, revName+"-deployment", errors.New("the object has been modified")))},
		WantErr:     true,
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: deployment(progressing(corev1.ConditionTrue, 1))}},
	}}

	table.Test(t, fwtesting.MakeFactory(newTestReconciler(vpaInstalled)))
}

// Whether the row's cluster serves the VerticalPodAutoscaler's API.
const (
	vpaInstalled    = true
	vpaNotInstalled = false
)

// newTestReconciler builds the reconciler over the row's objects, on a
// cluster with the VPA's CRD installed or not.
func newTestReconciler(installed bool) fwtesting.Ctor {
	return func(ctx context.Context, listers *fwtesting.Listers, cmw configmap.Watcher) controller.Reconciler {
		r := &Reconciler{
			kube:             kubeclient.Get(ctx),
			client:           servingclient.Get(ctx),
			deploymentLister: listers.GetDeploymentLister(),
			serviceLister:    listers.GetK8sServiceLister(),
			podLister:        listers.GetPodLister(),
			paLister:         listers.GetPodAutoscalerLister(),
			dynamic:          fakedynamicclient.Get(ctx),
			vpas:             staticVPAs{installed: installed, lister: listers.GetUnstructuredLister(resources.VerticalPodAutoscalerGVK, resources.VerticalPodAutoscalerGVR)},
			resolver: fakeResolver{
				"registry.example/hello:v1":   "registry.example/hello@sha256:abc",
				"registry.example/missing:v1": "",
			},
		}
		store := newConfigStore(logging.FromContext(ctx))
		store.WatchConfigs(cmw)
		return revisionreconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
			listers.GetRevisionLister(), controller.GetEventRecorder(ctx), r, controller.Options{ConfigStore: store})
	}
}

// staticVPAs serves the row's VerticalPodAutoscalers, or says the API is
// not served.
type staticVPAs struct {
	installed bool
	lister    cache.GenericLister
}

func (s staticVPAs) Lister() (cache.GenericLister, bool) { return s.lister, s.installed }

// failed is the Revision after a pass that stopped at a refused write:
// the conditions initialized, then mark.
func failed(mark func(*v1.RevisionStatus)) *v1.Revision {
	r := rev(WithResolved())
	r.Status.InitializeConditions()
	r.Status.ObservedGeneration = 1
	mark(&r.Status)
	return r
}

// ready is a Revision whose pods served: Ready True.
func ready() *v1.Revision {
	return status(func(s *v1.RevisionStatus) {
		s.MarkResourcesAvailableTrue()
		s.MarkContainerHealthyTrue()
		s.ActualReplicas = ptrTo[int32](1)
	})
}

// unnumbered gives r's app a port by name only (h2c), as a Revision
// stored before admission filled in the number has it.
func unnumbered(r *v1.Revision) *v1.Revision {
	r.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "h2c"}}
	return r
}

// Errors as the API server gives them.
var (
	invalidDeployment = apierrs.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, revName+"-deployment", field.ErrorList{
		field.Required(field.NewPath("spec", "template", "spec", "containers").Index(0).Child("ports").Index(0).Child("containerPort"), ""),
	})
	overQuota = apierrs.NewForbidden(schema.GroupResource{Resource: "services"}, revName+"-private",
		errors.New("exceeded quota: services, requested: services=1, used: services=10, limited: services=10"))
)

// refuse answers every verb on resource with err.
func refuse(verb, resource string, err error) clientgotesting.ReactionFunc {
	return func(action clientgotesting.Action) (bool, runtime.Object, error) {
		return action.Matches(verb, resource), nil, err
	}
}

// refuseUnnumberedPorts refuses a Deployment with a container port that
// has no number, as the API server's validation does.
func refuseUnnumberedPorts(action clientgotesting.Action) (bool, runtime.Object, error) {
	if !action.Matches("create", "deployments") {
		return false, nil, nil
	}
	d := action.(clientgotesting.CreateAction).GetObject().(*appsv1.Deployment)
	for i, c := range d.Spec.Template.Spec.Containers {
		for j, p := range c.Ports {
			if p.ContainerPort == 0 {
				return true, nil, apierrs.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, d.Name, field.ErrorList{
					field.Required(field.NewPath("spec", "template", "spec", "containers").Index(i).Child("ports").Index(j).Child("containerPort"), ""),
				})
			}
		}
	}
	return false, nil, nil
}

func ptrTo[T any](v T) *T { return &v }

// fakeResolver resolves the images it maps; an image mapped to "" is
// unknown to the registry; others are not registry images.
type fakeResolver map[string]string

func (f fakeResolver) Resolve(_ context.Context, image string, _ authn.Keychain, _ *config.Deployment) (string, error) {
	digest, ok := f[image]
	switch {
	case !ok:
		return "", nil
	case digest == "":
		return "", errors.New("MANIFEST_UNKNOWN")
	}
	return digest, nil
}
