package sourcecmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/wait"
)

// Delete deletes the sources of kind k called names and, with --wait,
// waits until each is gone. A name that is not there is an error; the
// others are deleted all the same.
func Delete[T Object, L runtime.Object](ctx context.Context, out io.Writer, p *Params, k *Kind[T, L], w *flags.WaitFlags, names []string) error {
	timeout, err := w.WaitTimeout()
	if err != nil {
		return err
	}
	client, ns, err := p.ConnectSources()
	if err != nil {
		return err
	}
	c := k.Client(client, ns)
	var errs []error
	for _, name := range names {
		if err := wait.Delete(ctx, c, k.Kind, ns, name, timeout); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "Deleted %s %s in namespace %s.\n", k.Kind, name, ns)
	}
	return errors.Join(errs...)
}
