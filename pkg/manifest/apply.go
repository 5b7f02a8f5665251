package manifest

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply manager Flywheel's installer uses.
const FieldManager = "flywheel-installer"

// Options change how Apply applies.
type Options struct {
	// DryRun asks the API server to admit and validate every object
	// without storing it.
	DryRun bool
	// EstablishTimeout bounds the wait for CRDs to be Established
	// (default 30s).
	EstablishTimeout time.Duration
}

// Apply server-side-applies objs. CRDs go first and are waited for, since
// nothing of their kinds can be applied until they are served. In dry-run
// mode CRDs are not stored, so objects of their kinds are checked only if
// the CRDs already exist.
func Apply(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, opts Options) error {
	if opts.EstablishTimeout == 0 {
		opts.EstablishTimeout = 30 * time.Second
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))

	var crds, others []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == apiextensionsv1.Kind("CustomResourceDefinition") {
			crds = append(crds, o)
		} else {
			others = append(others, o)
		}
	}

	a := applier{dyn: dyn, mapper: mapper, dryRun: opts.DryRun}
	for _, o := range crds {
		if err := a.apply(ctx, o); err != nil {
			return err
		}
	}
	if len(crds) > 0 && !opts.DryRun {
		if err := waitEstablished(ctx, dyn, crds, opts.EstablishTimeout); err != nil {
			return err
		}
		mapper.Reset()
	}
	for _, o := range others {
		if err := a.apply(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	dryRun bool
}

func (a applier) apply(ctx context.Context, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("finding the resource of %s %s: %w", gvk.Kind, o.GetName(), err)
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == "namespace" {
		ri = a.dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
	}
	applyOpts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if a.dryRun {
		applyOpts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Apply(ctx, o.GetName(), o, applyOpts); err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, qualifiedName(o), err)
	}
	return nil
}

func qualifiedName(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return ns + "/" + o.GetName()
	}
	return o.GetName()
}

// waitEstablished polls each CRD until its Established condition is True.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, crds []*unstructured.Unstructured, timeout time.Duration) error {
	res := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	for _, c := range crds {
		name := c.GetName()
		var last string
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			u, err := dyn.Resource(res).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				last = err.Error()
				return false, nil
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &crd); err != nil {
				return false, err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
				if cond.Type == apiextensionsv1.NamesAccepted && cond.Status == apiextensionsv1.ConditionFalse {
					last = cond.Message
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be Established (last: %s): %w", name, last, err)
		}
	}
	return nil
}
