package v1alpha1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

func TestPodAutoscalerValidation(t *testing.T) {
	deployment := func(name string) corev1.ObjectReference {
		return corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name}
	}
	tests := []struct {
		name string
		in   *PodAutoscaler
		// ctx, when set, turns the check into an update or adds config.
		ctx  func(context.Context) context.Context
		want string
	}{{
		name: "valid as defaulted",
		in:   pa(withClass(serving.KPAClass), withMetric(serving.MetricConcurrency), withProtocol(ProtocolHTTP1)),
	}, {
		name: "valid with every spec field",
		in: pa(withContainerConcurrency(1000), withProtocol(ProtocolH2C),
			withReachability(ReachabilityReachable)),
	}, {
		name: "annotations are validated under metadata",
		in:   pa(withAnnotation(serving.MinScaleAnnotation.String(), "-1")),
		want: `invalid value: -1: metadata.annotations[autoscaling.knative.dev/min-scale]
min-scale must be 0 or more`,
	}, {
		name: "annotations are held to config-autoscaler from the context",
		in:   pa(withAnnotation(serving.InitialScaleAnnotation.String(), "0")),
		ctx: func(ctx context.Context) context.Context {
			a := config.DefaultAutoscaler()
			a.AllowZeroInitialScale = true
			return config.ToContext(ctx, &config.Config{Autoscaler: a})
		},
	}, {
		name: "scaleTargetRef needs apiVersion",
		in:   pa(withScaleTargetRef(corev1.ObjectReference{Kind: "Deployment", Name: "d"})),
		want: "missing field(s): spec.scaleTargetRef.apiVersion",
	}, {
		name: "scaleTargetRef needs kind",
		in:   pa(withScaleTargetRef(corev1.ObjectReference{APIVersion: "apps/v1", Name: "d"})),
		want: "missing field(s): spec.scaleTargetRef.kind",
	}, {
		name: "scaleTargetRef needs name",
		in:   pa(withScaleTargetRef(corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment"})),
		want: "missing field(s): spec.scaleTargetRef.name",
	}, {
		name: "empty scaleTargetRef names every missing field",
		in:   pa(withScaleTargetRef(corev1.ObjectReference{})),
		want: "missing field(s): spec.scaleTargetRef.apiVersion, spec.scaleTargetRef.kind, spec.scaleTargetRef.name",
	}, {
		name: "containerConcurrency not negative",
		in:   pa(withContainerConcurrency(-1)),
		want: "expected 0 <= -1 <= 1000: spec.containerConcurrency",
	}, {
		name: "containerConcurrency at most the config-defaults limit",
		in:   pa(withContainerConcurrency(1001)),
		want: "expected 0 <= 1001 <= 1000: spec.containerConcurrency",
	}, {
		name: "containerConcurrency over a lowered limit may stay on update",
		in:   pa(withContainerConcurrency(500)),
		ctx: func(ctx context.Context) context.Context {
			d := config.DefaultDefaults()
			d.ContainerConcurrencyMaxLimit = 100
			ctx = config.ToContext(ctx, &config.Config{Defaults: d})
			return apis.WithinUpdate(ctx, pa(withContainerConcurrency(500)))
		},
	}, {
		name: "containerConcurrency over a lowered limit may not be newly set on update",
		in:   pa(withContainerConcurrency(500)),
		ctx: func(ctx context.Context) context.Context {
			d := config.DefaultDefaults()
			d.ContainerConcurrencyMaxLimit = 100
			ctx = config.ToContext(ctx, &config.Config{Defaults: d})
			return apis.WithinUpdate(ctx, pa(withContainerConcurrency(50)))
		},
		want: "expected 0 <= 500 <= 100: spec.containerConcurrency",
	}, {
		name: "protocolType is http1 or h2c",
		in:   pa(withProtocol("http3")),
		want: `invalid value: http3: spec.protocolType
protocolType must be http1 or h2c`,
	}, {
		name: "reachability is one of the defined values",
		in:   pa(withReachability("Maybe")),
		want: `invalid value: Maybe: spec.reachability
reachability must be empty, Reachable or Unreachable`,
	}, {
		name: "scaleTargetRef is immutable",
		in:   pa(withScaleTargetRef(deployment("other"))),
		ctx: func(ctx context.Context) context.Context {
			return apis.WithinUpdate(ctx, pa(withScaleTargetRef(deployment("hello-00001-deployment"))))
		},
		want: `immutable field changed (-old +new): spec.scaleTargetRef
scaleTargetRef cannot change; make a new PodAutoscaler for another target
{v1.ObjectReference}.Name:
	-: "hello-00001-deployment"
	+: "other"
`,
	}, {
		name: "other spec fields may change on update",
		in:   pa(withContainerConcurrency(10), withReachability(ReachabilityUnreachable)),
		ctx: func(ctx context.Context) context.Context {
			return apis.WithinUpdate(ctx, pa())
		},
	}, {
		name: "a status update is not refused for its spec",
		in:   pa(withContainerConcurrency(-1)),
		ctx: func(ctx context.Context) context.Context {
			return apis.WithinSubResourceUpdate(ctx, pa(withContainerConcurrency(-1)), "status")
		},
	}, {
		name: "every problem is reported at once",
		in: pa(withAnnotation(serving.WindowAnnotation.String(), "1s"),
			withContainerConcurrency(-1), withProtocol("spdy")),
		want: `expected 0 <= -1 <= 1000: spec.containerConcurrency
expected 6s <= 1s <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/window]
window must be from 6s to 1h0m0s
invalid value: spdy: spec.protocolType
protocolType must be http1 or h2c`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx(ctx)
			}
			got := ""
			if err := tc.in.Validate(ctx); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate (-want, +got):\n%s", diff)
			}
		})
	}
}
