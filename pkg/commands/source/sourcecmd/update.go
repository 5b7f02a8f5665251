package sourcecmd

import (
	"context"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
)

// Update changes the source called name of kind k as the flags say and
// leaves the rest as it is; it writes nothing when the flags change
// nothing. Then it waits until the source is ready unless told not to.
func Update[T Object, L runtime.Object](ctx context.Context, out io.Writer, p *Params, k *Kind[T, L], o *WriteOptions[T], name string) error {
	if err := o.check(k.New, k.Source); err != nil {
		return err
	}
	client, ns, err := p.ConnectSources()
	if err != nil {
		return err
	}
	c := k.Client(client, ns)
	obj, changed, err := update(ctx, c, k, o, ns, name)
	if apierrs.IsNotFound(err) {
		return fmt.Errorf("no %s %s in namespace %s: create it with %s %s %s", k.Kind, name, ns, k.Command("create"), name, k.CreateFlags)
	}
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(out, "Nothing to change in %s %s in namespace %s.\n", k.Kind, name, ns)
	} else {
		fmt.Fprintf(out, "Updated %s %s in namespace %s.\n", k.Kind, name, ns)
	}
	return report(ctx, out, c, k, o, obj)
}

// update applies the flags to the source as it is now, retrying when
// someone else changed it in between, and says whether it wrote.
func update[T Object, L runtime.Object](ctx context.Context, c Client[T, L], k *Kind[T, L], o *WriteOptions[T], ns, name string) (T, bool, error) {
	var result T
	var changed bool
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if current.GetDeletionTimestamp() != nil {
			return fmt.Errorf("the %s %s is being deleted and cannot change; create it anew once it is gone", k.Kind, name)
		}
		edited, _ := current.DeepCopyObject().(T)
		if err := o.apply(k.Source, edited, ns); err != nil {
			return err
		}
		// The flags change the spec only, so any difference is theirs.
		if equality.Semantic.DeepEqual(current, edited) {
			result, changed = current, false
			return nil
		}
		if result, err = c.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating %s %s: %w", k.Kind, name, err)
		}
		changed = true
		return nil
	})
	return result, changed, err
}
