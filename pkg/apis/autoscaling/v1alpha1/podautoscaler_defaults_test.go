package v1alpha1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

func TestPodAutoscalerDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   *PodAutoscaler
		cfg  func(*config.Autoscaler)
		want *PodAutoscaler
	}{{
		name: "empty: class and metric from config, http1",
		in:   pa(),
		want: pa(withClass(serving.KPAClass), withMetric(serving.MetricConcurrency), withProtocol(ProtocolHTTP1)),
	}, {
		name: "cluster default class HPA defaults the metric to cpu",
		in:   pa(),
		cfg:  func(c *config.Autoscaler) { c.PodAutoscalerClass = serving.HPAClass },
		want: pa(withClass(serving.HPAClass), withMetric(serving.MetricCPU), withProtocol(ProtocolHTTP1)),
	}, {
		name: "class annotation HPA defaults the metric to cpu",
		in:   pa(withClass(serving.HPAClass)),
		want: pa(withClass(serving.HPAClass), withMetric(serving.MetricCPU), withProtocol(ProtocolHTTP1)),
	}, {
		name: "an empty class annotation counts as missing",
		in:   pa(withClass("")),
		want: pa(withClass(serving.KPAClass), withMetric(serving.MetricConcurrency), withProtocol(ProtocolHTTP1)),
	}, {
		name: "set class, metric and protocol are kept",
		in:   pa(withClass(serving.KPAClass), withMetric(serving.MetricRPS), withProtocol(ProtocolH2C)),
		cfg:  func(c *config.Autoscaler) { c.PodAutoscalerClass = serving.HPAClass },
		want: pa(withClass(serving.KPAClass), withMetric(serving.MetricRPS), withProtocol(ProtocolH2C)),
	}, {
		name: "a third-party class gets no metric",
		in:   pa(withClass("custom.example.com")),
		want: pa(withClass("custom.example.com"), withProtocol(ProtocolHTTP1)),
	}, {
		name: "unset reachability stays unset, set reachability is kept",
		in:   pa(withReachability(ReachabilityUnreachable)),
		want: pa(withClass(serving.KPAClass), withMetric(serving.MetricConcurrency), withProtocol(ProtocolHTTP1),
			withReachability(ReachabilityUnreachable)),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.DefaultAutoscaler()
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			ctx := config.ToContext(context.Background(), &config.Config{Autoscaler: cfg})
			got := tc.in.DeepCopy()
			got.SetDefaults(ctx)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SetDefaults (-want, +got):\n%s", diff)
			}
		})
	}
}

// paOption changes a PodAutoscaler built by pa.
type paOption func(*PodAutoscaler)

// pa returns a PodAutoscaler with a complete scale target and no
// annotations, changed by opts.
func pa(opts ...paOption) *PodAutoscaler {
	p := &PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default"},
		Spec: PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hello-00001-deployment"},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withAnnotation(key, value string) paOption {
	return func(p *PodAutoscaler) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[key] = value
	}
}

func withClass(c string) paOption  { return withAnnotation(serving.ClassAnnotation.String(), c) }
func withMetric(m string) paOption { return withAnnotation(serving.MetricAnnotation.String(), m) }

func withProtocol(proto ProtocolType) paOption {
	return func(p *PodAutoscaler) { p.Spec.ProtocolType = proto }
}

func withReachability(r ReachabilityType) paOption {
	return func(p *PodAutoscaler) { p.Spec.Reachability = r }
}

func withContainerConcurrency(cc int64) paOption {
	return func(p *PodAutoscaler) { p.Spec.ContainerConcurrency = cc }
}

func withScaleTargetRef(ref corev1.ObjectReference) paOption {
	return func(p *PodAutoscaler) { p.Spec.ScaleTargetRef = ref }
}
