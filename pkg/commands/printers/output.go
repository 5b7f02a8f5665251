package printers

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/client/clientset/versioned/scheme"
)

// The values of -o/--output; empty means the human-readable form.
const (
	JSON = "json"
	YAML = "yaml"
	// NameOutput prints KIND.GROUP/NAME a line, as kubectl -o name does.
	NameOutput = "name"
	// URLOutput prints the object's URL a line (status.url, else
	// status.address.url), as kn's -o url does, for scripts:
	// curl "$(fw service describe hello -o url)".
	URLOutput = "url"
)

// AddOutputFlag registers -o/--output on fs.
func AddOutputFlag(fs *pflag.FlagSet, format *string) {
	fs.StringVarP(format, "output", "o", "",
		"print the object(s) as the API has them (json or yaml), their names (name) or their URLs (url)")
}

// CheckOutput refuses an -o value this package cannot print.
func CheckOutput(format string) error {
	switch format {
	case "", JSON, YAML, NameOutput, URLOutput:
		return nil
	}
	return fmt.Errorf("--output %q: want %s, %s, %s or %s, or leave it out for the human-readable form", format, JSON, YAML, NameOutput, URLOutput)
}

// PrintObject writes obj, a single object or a list, as JSON or YAML with
// apiVersion and kind set on it and on each item: typed clients drop them
// when they decode.
func PrintObject(w io.Writer, format string, obj runtime.Object) error {
	obj = obj.DeepCopyObject()
	if err := setKind(obj); err != nil {
		return err
	}
	if meta.IsListType(obj) {
		if err := meta.EachListItem(obj, setKind); err != nil {
			return err
		}
	}
	var b []byte
	var err error
	switch format {
	case NameOutput, URLOutput:
		return printEach(w, format, obj)
	case JSON:
		b, err = json.MarshalIndent(obj, "", "  ")
		b = append(b, '\n')
	case YAML:
		b, err = yaml.Marshal(obj)
	default:
		return CheckOutput(format)
	}
	if err != nil {
		return fmt.Errorf("encoding as %s: %w", format, err)
	}
	_, err = w.Write(b)
	return err
}

func setKind(obj runtime.Object) error {
	kinds, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return fmt.Errorf("finding the kind of %T: %w", obj, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(kinds[0])
	return nil
}

// printEach writes the name or the URL of obj, or of each item of a list,
// a line each.
func printEach(w io.Writer, format string, obj runtime.Object) error {
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return err
		}
	}
	for _, item := range items {
		line, err := nameOrURL(format, item)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func nameOrURL(format string, obj runtime.Object) (string, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return "", err
	}
	if format == NameOutput {
		return strings.ToLower(gvk.Kind) + "." + gvk.Group + "/" + accessor.GetName(), nil
	}
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", err
	}
	for _, path := range [][]string{{"status", "url"}, {"status", "address", "url"}} {
		if url, found, _ := unstructured.NestedString(fields, path...); found && url != "" {
			return url, nil
		}
	}
	return "", fmt.Errorf("--output url: the %s %s has no URL: neither status.url nor status.address.url is set (describe it without -o to see why)",
		gvk.Kind, accessor.GetName())
}
