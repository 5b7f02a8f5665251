// Package offline keeps Services in local files instead of a cluster, for
// kn's --target: fw service create, update, apply, describe, list and
// delete then read and write manifests as a GitOps repository holds them.
package offline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
)

// serviceDir is the directory of a namespace's Services under a
// directory target, kn's short name for the kind.
const serviceDir = "ksvc"

// Serving returns a serving.knative.dev/v1 client whose Services live
// under target: a directory holds each at NAMESPACE/ksvc/NAME.yaml, as
// kn lays them out; a file whose name ends in .yaml, .yml or .json holds
// one. Revisions, Configurations and Routes are what a cluster makes
// from a Service, so the files hold none: listing them finds none and
// writing one is refused. Nothing there can be watched, so there is
// nothing to wait for.
func Serving(target string) servingv1client.ServingV1Interface {
	return serving{target: target}
}

// Path is the file that target keeps the Service ns/name in.
func Path(target, ns, name string) string {
	if isFile(target) {
		return target
	}
	return filepath.Join(target, ns, serviceDir, name+".yaml")
}

// isFile reports whether target names a file rather than a directory.
func isFile(target string) bool {
	switch strings.ToLower(filepath.Ext(target)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

type serving struct{ target string }

func (s serving) RESTClient() rest.Interface { return nil }

func (s serving) Services(ns string) servingv1client.ServiceInterface {
	return &services{target: s.target, ns: ns}
}

func (s serving) Revisions(string) servingv1client.RevisionInterface {
	return absent[servingv1.Revision, servingv1.RevisionList]{kind: "Revisions"}
}

func (s serving) Configurations(string) servingv1client.ConfigurationInterface {
	return absent[servingv1.Configuration, servingv1.ConfigurationList]{kind: "Configurations"}
}

func (s serving) Routes(string) servingv1client.RouteInterface {
	return absent[servingv1.Route, servingv1.RouteList]{kind: "Routes"}
}

// ErrNoWatch is what watching a file answers.
var ErrNoWatch = errors.New("--target keeps Services in files, which cannot be watched: there is nothing to wait for")

// services are the Services of namespace ns (all of them when empty)
// under target.
type services struct {
	target string
	ns     string
}

var _ servingv1client.ServiceInterface = &services{}

func (s *services) Create(_ context.Context, svc *servingv1.Service, _ metav1.CreateOptions) (*servingv1.Service, error) {
	path := Path(s.target, s.ns, svc.Name)
	existing, err := read(path)
	switch {
	case err == nil && existing.Name == svc.Name:
		return nil, apierrs.NewAlreadyExists(servingv1.Resource("services"), svc.Name)
	case err == nil:
		return nil, fmt.Errorf("%s holds Service %s, and a file target holds one Service: give another file, or a directory", path, existing.Name)
	case !apierrs.IsNotFound(err):
		return nil, err
	}
	created := svc.DeepCopy()
	created.Namespace = s.ns
	return created, write(path, created)
}

func (s *services) Update(ctx context.Context, svc *servingv1.Service, _ metav1.UpdateOptions) (*servingv1.Service, error) {
	if _, err := s.Get(ctx, svc.Name, metav1.GetOptions{}); err != nil {
		return nil, err
	}
	updated := svc.DeepCopy()
	updated.Namespace = s.ns
	return updated, write(Path(s.target, s.ns, svc.Name), updated)
}

func (s *services) UpdateStatus(context.Context, *servingv1.Service, metav1.UpdateOptions) (*servingv1.Service, error) {
	return nil, errors.New("--target keeps what a Service declares, not its status")
}

func (s *services) Delete(ctx context.Context, name string, _ metav1.DeleteOptions) error {
	if _, err := s.Get(ctx, name, metav1.GetOptions{}); err != nil {
		return err
	}
	return os.Remove(Path(s.target, s.ns, name))
}

func (s *services) DeleteCollection(context.Context, metav1.DeleteOptions, metav1.ListOptions) error {
	return errors.New("--target deletes Services one file at a time")
}

func (s *services) Get(_ context.Context, name string, _ metav1.GetOptions) (*servingv1.Service, error) {
	svc, err := read(Path(s.target, s.ns, name))
	if err != nil {
		return nil, notFoundAs(err, name)
	}
	// A file target holds one Service, of one name and namespace.
	if svc.Name != name || (svc.Namespace != "" && s.ns != "" && svc.Namespace != s.ns) {
		return nil, apierrs.NewNotFound(servingv1.Resource("services"), name)
	}
	return svc, nil
}

func (s *services) List(_ context.Context, opts metav1.ListOptions) (*servingv1.ServiceList, error) {
	selector, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("label selector %q: %w", opts.LabelSelector, err)
	}
	var paths []string
	if isFile(s.target) {
		paths = []string{s.target}
	} else {
		ns := s.ns
		if ns == metav1.NamespaceAll {
			ns = "*"
		}
		if paths, err = filepath.Glob(filepath.Join(s.target, ns, serviceDir, "*.yaml")); err != nil {
			return nil, err
		}
	}
	list := &servingv1.ServiceList{}
	for _, path := range paths {
		svc, err := read(path)
		if apierrs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if s.ns != metav1.NamespaceAll && svc.Namespace != "" && svc.Namespace != s.ns {
			continue
		}
		if selector.Matches(labels.Set(svc.Labels)) {
			list.Items = append(list.Items, *svc)
		}
	}
	return list, nil
}

func (s *services) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, ErrNoWatch
}

// Patch applies a JSON merge patch (what fw service apply sends) to the
// Service's file.
func (s *services) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, _ metav1.PatchOptions, subresources ...string) (*servingv1.Service, error) {
	if pt != types.MergePatchType || len(subresources) > 0 {
		return nil, fmt.Errorf("--target applies JSON merge patches to a Service, not %s patches to %v", pt, subresources)
	}
	svc, err := s.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(svc)
	if err != nil {
		return nil, err
	}
	var patch map[string]any
	if err := json.Unmarshal(data, &patch); err != nil {
		return nil, fmt.Errorf("the patch is not a JSON object: %w", err)
	}
	var patched servingv1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mergePatch(fields, patch).(map[string]any), &patched); err != nil {
		return nil, fmt.Errorf("the patched Service: %w", err)
	}
	return s.Update(ctx, &patched, metav1.UpdateOptions{})
}

// mergePatch applies patch to target as RFC 7386 says: objects merge key
// by key, null removes a key, anything else replaces.
func mergePatch(target, patch any) any {
	fields, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	merged, ok := target.(map[string]any)
	if !ok {
		merged = map[string]any{}
	}
	for k, v := range fields {
		if v == nil {
			delete(merged, k)
			continue
		}
		merged[k] = mergePatch(merged[k], v)
	}
	return merged
}

// read decodes the Service in path; a missing file is NotFound.
func read(path string) (*servingv1.Service, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, apierrs.NewNotFound(servingv1.Resource("services"), strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	}
	if err != nil {
		return nil, err
	}
	var svc servingv1.Service
	if err := yaml.Unmarshal(b, &svc); err != nil {
		return nil, fmt.Errorf("%s is not a Service: %w", path, err)
	}
	if gvk := servingv1.SchemeGroupVersion.WithKind("Service"); svc.Kind != gvk.Kind || svc.APIVersion != gvk.GroupVersion().String() {
		return nil, fmt.Errorf("%s holds apiVersion %q, kind %q; want a %s Service", path, svc.APIVersion, svc.Kind, gvk.GroupVersion())
	}
	return &svc, nil
}

// notFoundAs names name in a NotFound error of read, which knows only
// the file.
func notFoundAs(err error, name string) error {
	if apierrs.IsNotFound(err) {
		return apierrs.NewNotFound(servingv1.Resource("services"), name)
	}
	return err
}

// write puts svc in path as its manifest, YAML unless path ends in
// .json, replacing the file at once (a rename): a reader never sees half
// of it.
func write(path string, svc *servingv1.Service) error {
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(svc)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: fields}
	WithoutServerFields(u)
	b, err := json.MarshalIndent(u.Object, "", "  ")
	if err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		b = append(b, '\n')
	} else if b, err = yaml.JSONToYAML(b); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WithoutServerFields makes u a Service's manifest: apiVersion and kind
// set, without the status and the creation times the server sets.
func WithoutServerFields(u *unstructured.Unstructured) {
	u.SetAPIVersion(servingv1.SchemeGroupVersion.String())
	u.SetKind("Service")
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
}

// absent is a kind that the files do not hold: none exist, and none can
// be written.
type absent[T, L any] struct {
	// kind is the plural of the kind, as messages name it.
	kind string
}

func (a absent[T, L]) refused() error {
	return fmt.Errorf("--target keeps Services alone; %s are what a cluster makes of them", a.kind)
}

func (a absent[T, L]) Create(context.Context, *T, metav1.CreateOptions) (*T, error) {
	return nil, a.refused()
}

func (a absent[T, L]) Update(context.Context, *T, metav1.UpdateOptions) (*T, error) {
	return nil, a.refused()
}

func (a absent[T, L]) UpdateStatus(context.Context, *T, metav1.UpdateOptions) (*T, error) {
	return nil, a.refused()
}

func (a absent[T, L]) Delete(context.Context, string, metav1.DeleteOptions) error {
	return a.refused()
}

func (a absent[T, L]) DeleteCollection(context.Context, metav1.DeleteOptions, metav1.ListOptions) error {
	return a.refused()
}

func (a absent[T, L]) Get(_ context.Context, name string, _ metav1.GetOptions) (*T, error) {
	return nil, apierrs.NewNotFound(servingv1.Resource(strings.ToLower(a.kind)), name)
}

func (a absent[T, L]) List(context.Context, metav1.ListOptions) (*L, error) {
	return new(L), nil
}

func (a absent[T, L]) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, ErrNoWatch
}

func (a absent[T, L]) Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*T, error) {
	return nil, a.refused()
}
