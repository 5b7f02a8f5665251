package telemetry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Watch keeps t configured from ConfigMapName in namespace until ctx
// ends: each version is parsed and applied; a version that does not
// parse is logged with what is wrong and leaves the configuration in
// force; a deleted ConfigMap brings back DefaultConfig. It returns once
// the first list is in, so that the component starts with the cluster's
// configuration.
func Watch(ctx context.Context, t *Telemetry, kube kubernetes.Interface, namespace string) {
	log := t.Logger()
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 0,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", ConfigMapName).String()
		}))
	informer := factory.Core().V1().ConfigMaps().Informer()
	apply := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		cfg, err := ParseConfig(cm.Data)
		if err != nil {
			log.Error("keeping the observability configuration in force", "error", err)
			return
		}
		if err := t.Apply(ctx, cfg); err != nil {
			log.Error("applying the observability configuration", "error", err)
			return
		}
		log.Info("observability configured", "metrics", cfg.Metrics.Protocol, "tracing", cfg.Tracing.Protocol,
			"samplingRate", cfg.Tracing.SamplingRate)
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
		DeleteFunc: func(any) {
			if err := t.Apply(ctx, DefaultConfig()); err != nil {
				log.Error("applying the default observability configuration", "error", err)
			}
		},
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
}
