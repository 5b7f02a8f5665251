package sourcecmd

import (
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/params"
)

// Params are the shared parameters of `fw`, and the client of the
// sources API built from them.
type Params struct {
	*params.Params

	// NewSourcesClient, when set, replaces the sources.knative.dev/v1
	// client built from the kubeconfig. Tests set it to a fake
	// clientset's.
	NewSourcesClient func() (sourcesv1client.SourcesV1Interface, error)
}

// SourcesClient returns a client for the sources.knative.dev/v1 API.
func (p *Params) SourcesClient() (sourcesv1client.SourcesV1Interface, error) {
	if p.NewSourcesClient != nil {
		return p.NewSourcesClient()
	}
	cfg, err := p.RESTConfig()
	if err != nil {
		return nil, err
	}
	return sourcesv1client.NewForConfig(cfg)
}

// ConnectSources returns the sources API client and the namespace to
// work in.
func (p *Params) ConnectSources() (sourcesv1client.SourcesV1Interface, string, error) {
	ns, err := p.CurrentNamespace()
	if err != nil {
		return nil, "", err
	}
	client, err := p.SourcesClient()
	if err != nil {
		return nil, "", err
	}
	return client, ns, nil
}
