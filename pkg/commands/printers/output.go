package printers

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/client/clientset/versioned/scheme"
)

// The values of -o/--output; empty means the human-readable form.
const (
	JSON = "json"
	YAML = "yaml"
)

// AddOutputFlag registers -o/--output on fs.
func AddOutputFlag(fs *pflag.FlagSet, format *string) {
	fs.StringVarP(format, "output", "o", "", "print the object(s) as the API has them: json or yaml")
}

// CheckOutput refuses an -o value this package cannot print.
func CheckOutput(format string) error {
	switch format {
	case "", JSON, YAML:
		return nil
	}
	return fmt.Errorf("--output %q: want %s or %s, or leave it out for the human-readable form", format, JSON, YAML)
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
