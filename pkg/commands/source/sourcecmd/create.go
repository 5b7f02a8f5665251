package sourcecmd

import (
	"context"
	"fmt"
	"io"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/pkg/commands/broker/delivery"
)

// Create creates the source called name of kind k as the flags say, and
// waits until it is ready unless told not to.
func Create[T Object, L runtime.Object](ctx context.Context, out io.Writer, p *Params, k *Kind[T, L], o *WriteOptions[T], name string) error {
	if err := o.Kind.Require(); err != nil {
		return err
	}
	if !o.Source.Changed(SinkFlag) {
		return fmt.Errorf("--%s is required: where the %s sends its events, e.g. --%s broker:default; it takes %s",
			SinkFlag, k.Kind, SinkFlag, delivery.SinkHelp)
	}
	if err := o.check(k.New, k.Source); err != nil {
		return err
	}
	client, ns, err := p.ConnectSources()
	if err != nil {
		return err
	}
	obj := k.New(ns, name)
	if err := o.apply(k.Source, obj, ns); err != nil {
		return err
	}
	c := k.Client(client, ns)
	created, err := c.Create(ctx, obj, metav1.CreateOptions{})
	if apierrs.IsAlreadyExists(err) {
		return fmt.Errorf("a %s %s already exists in namespace %s: change it with %s %s", k.Kind, name, ns, k.Command("update"), name)
	}
	if err != nil {
		return fmt.Errorf("creating %s %s: %w", k.Kind, name, err)
	}
	fmt.Fprintf(out, "Created %s %s in namespace %s.\n", k.Kind, name, ns)
	return report(ctx, out, c, k, o, created)
}

// report waits, when asked to, until obj is ready at the generation that
// was written, and prints where its events go.
func report[T Object, L runtime.Object](ctx context.Context, out io.Writer, c Client[T, L], k *Kind[T, L], o *WriteOptions[T], obj T) error {
	shouldWait, err := o.Wait.Wait()
	if err != nil {
		return err
	}
	name, ns := obj.GetName(), obj.GetNamespace()
	if !shouldWait {
		fmt.Fprintf(out, "Not waiting for it to become ready; see %s %s -n %s\n", k.Command("describe"), name, ns)
		return nil
	}
	fmt.Fprintf(out, "Waiting for %s %s to become ready...\n", k.Kind, name)
	ready, err := waitForReady(ctx, c, k, name, obj.GetGeneration(), o.Wait.Bounds())
	if err != nil {
		return err
	}
	_, status := k.Source(ready)
	fmt.Fprintf(out, "%s %s is ready, sending to:\n%s\n", k.Kind, name, sinkURI(status))
	return nil
}
