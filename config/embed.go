package config

import (
	"bufio"
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Core is Flywheel's core installation: the namespace, RBAC, the CRDs of
// every kind (generated into core/crds by hack/update-crds.sh), the
// configuration ConfigMaps and the components. Paths start with "core/".
//
//go:embed core
var Core embed.FS

// Eventing is Flywheel's eventing: NATS JetStream as a StatefulSet, the
// broker ingress, the broker dispatcher and the PingSource adapter, with
// their RBAC. Broker and
// Trigger CRDs are in Core, with every other CRD. Paths start with
// "eventing/".
//
//go:embed eventing
var Eventing embed.FS

// Local is what local mode adds to a cluster that a real one brings
// itself: kube-proxy and CoreDNS, each as its kubeadm install runs it,
// metrics-server, and the VPA recommender (whose CRDs are in
// third_party/vpa-crds). Paths start with "local/".
//
//go:embed local
var Local embed.FS

// Tracing is what `fw local up --tracing` adds: Jaeger as a trace viewer
// the components send their spans to. Paths start with "tracing/".
//
//go:embed tracing
var Tracing embed.FS

// Manifests decodes every object of every .yaml file in fsys, in install
// order, skipping empty documents (a leading "---", a document of comments).
//
// Install order is the order of the files' base names, then of their full
// paths: the number a file name starts with (100 namespace, 200 RBAC, 300
// CRDs, 500 webhooks …) decides, and a subdirectory only groups files.
// Walking the tree instead would put core/crds/300-… after
// core/500-webhook.yaml, whose rules name the CRDs' kinds.
func Manifests(fsys fs.FS) ([]*unstructured.Unstructured, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(p) == ".yaml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b string) int {
		return cmp.Or(strings.Compare(path.Base(a), path.Base(b)), strings.Compare(a, b))
	})

	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		docs, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

// Decode splits a YAML stream into its documents and decodes each that
// holds an object.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if j = bytes.TrimSpace(j); len(j) == 0 || string(j) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		objs = append(objs, u)
	}
}
