package sourcetest

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"flywheel.dev/pkg/client/clientset/versioned/fake"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// Namespace is the namespace the commands work in.
const Namespace = commandstest.Namespace

// NewParams returns parameters whose sources client is a fake clientset
// holding objs.
func NewParams(t *testing.T, objs ...runtime.Object) (*sourcecmd.Params, *fake.Clientset) {
	t.Helper()
	p, client := commandstest.NewParams(t, objs...)
	return &sourcecmd.Params{
		Params:           p,
		NewSourcesClient: func() (sourcesv1client.SourcesV1Interface, error) { return client.SourcesV1(), nil },
	}, client
}

// Writes lists the create, update and delete calls made through client.
func Writes(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" || a.GetVerb() == "update" || a.GetVerb() == "delete" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

// ServeWatch makes the watch of resource (pingsources …) see events, in
// order, each a change to an object.
func ServeWatch(client *fake.Clientset, resource string, events ...runtime.Object) {
	w := watch.NewFakeWithChanSize(len(events), false)
	for _, e := range events {
		w.Modify(e)
	}
	client.PrependWatchReactor(resource, k8stesting.DefaultWatchReactor(w, nil))
}
