package custommetrics

import (
	"context"
	"errors"
	"fmt"
	"net"

	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	openapicommon "k8s.io/kube-openapi/pkg/common"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/apiserver"
	generatedcore "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/core"
	generatedcustommetrics "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/custommetrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// DefaultAddress is where the API is served when ServerOptions names no
// address: the port the APIService's Service points at.
const DefaultAddress = ":8443"

// DefaultName names the server in its logs and OpenAPI document when
// ServerOptions names none.
const DefaultName = "flywheel-custom-metrics"

// ServerOptions says how the custom metrics API is served.
//
// The server is built from the apiserver library's option structs rather
// than custom-metrics-apiserver's cmd.AdapterBase: AdapterBase registers
// its flags on the process-wide pflag.CommandLine and builds its own
// clients, while a binary here owns its flags and its informers. The few
// settings a deployment needs are these fields; the command that runs the
// server maps its flags onto them.
type ServerOptions struct {
	// Address is the host:port to listen on; port 0 picks a free one
	// (Server.Addr tells which). Empty means DefaultAddress.
	Address string
	// CertFile and KeyFile are the serving certificate and its key, in
	// PEM. When both are empty a self-signed certificate is made in
	// memory, for the loopback address and "localhost": an APIService
	// then needs insecureSkipTLSVerify.
	CertFile, KeyFile string
	// Kubeconfig points at the kube-apiserver that authenticates callers
	// (TokenReview, and the client CAs of its
	// extension-apiserver-authentication ConfigMap, through which the
	// aggregator's proxied requests are trusted) and authorizes them
	// (SubjectAccessReview). Empty means the in-cluster config.
	Kubeconfig string
	// SkipDelegation turns authentication and authorization off: every
	// request is served, as no user. Only for tests and local runs.
	SkipDelegation bool
	// Name names the server in its logs and OpenAPI document; empty
	// means DefaultName.
	Name string
}

// Server serves custom.metrics.k8s.io, versions v1beta2 and v1beta1,
// from a provider.
type Server struct {
	generic *genericapiserver.GenericAPIServer
	addr    net.Addr
}

// NewServer listens on opts.Address and builds the API server that
// serves p's metrics there. It holds the listener until Run returns.
func NewServer(opts ServerOptions, p provider.CustomMetricsProvider) (*Server, error) {
	if p == nil {
		return nil, errors.New("no custom metrics provider")
	}
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if (opts.CertFile == "") != (opts.KeyFile == "") {
		return nil, fmt.Errorf("certificate file %q and key file %q: give both or neither", opts.CertFile, opts.KeyFile)
	}
	// Listening here, not in the library, lets a caller ask for port 0
	// and learn the port; the library would not serve at all on 0.
	ln, err := net.Listen("tcp", opts.Address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", opts.Address, err)
	}
	s, err := newServer(opts, ln, p)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return s, nil
}

func newServer(opts ServerOptions, ln net.Listener, p provider.CustomMetricsProvider) (*Server, error) {
	cfg := genericapiserver.NewConfig(apiserver.Codecs)

	serving := genericoptions.NewSecureServingOptions()
	serving.Listener = ln
	serving.ServerCert.CertKey.CertFile = opts.CertFile
	serving.ServerCert.CertKey.KeyFile = opts.KeyFile
	// The options default to writing a generated certificate under the
	// working directory; with no directory it stays in memory.
	serving.ServerCert.CertDirectory = ""
	serving.ServerCert.PairName = ""
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		serving.BindAddress = tcp.IP
		serving.BindPort = tcp.Port
	}
	// Does nothing when files are given.
	if err := serving.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}); err != nil {
		return nil, fmt.Errorf("making a self-signed certificate: %w", err)
	}
	if err := serving.WithLoopback().ApplyToConfig(cfg); err != nil {
		return nil, fmt.Errorf("configuring serving: %w", err)
	}

	// The aggregator fetches each APIService's OpenAPI document; the
	// library ships the definitions of its types.
	defs := openAPIDefinitions(generatedcore.GetOpenAPIDefinitions, generatedcustommetrics.GetOpenAPIDefinitions)
	namer := openapinamer.NewDefinitionNamer(apiserver.Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(defs, namer)
	cfg.OpenAPIConfig.Info.Title = opts.Name
	cfg.OpenAPIConfig.Info.Version = "1.0.0"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(defs, namer)
	cfg.OpenAPIV3Config.Info.Title = opts.Name
	cfg.OpenAPIV3Config.Info.Version = "1.0.0"

	if opts.SkipDelegation {
		// A nil authorizer would be skipped too, but the impersonation
		// filter calls it unchecked.
		cfg.Authorization.Authorizer = authorizerfactory.NewAlwaysAllowAuthorizer()
	} else {
		authn := genericoptions.NewDelegatingAuthenticationOptions()
		authn.RemoteKubeConfigFile = opts.Kubeconfig
		if err := authn.ApplyTo(&cfg.Authentication, cfg.SecureServing, cfg.OpenAPIConfig); err != nil {
			return nil, fmt.Errorf("configuring delegated authentication: %w", err)
		}
		authz := genericoptions.NewDelegatingAuthorizationOptions()
		authz.RemoteKubeConfigFile = opts.Kubeconfig
		if err := authz.ApplyTo(&cfg.Authorization); err != nil {
			return nil, fmt.Errorf("configuring delegated authorization: %w", err)
		}
	}

	// No informers: the server itself watches nothing; the provider
	// brings its own listers.
	c := &apiserver.Config{GenericConfig: cfg}
	s, err := c.Complete(nil).New(opts.Name, p, nil)
	if err != nil {
		return nil, fmt.Errorf("building the custom metrics API server: %w", err)
	}
	return &Server{generic: s.GenericAPIServer, addr: ln.Addr()}, nil
}

// openAPIDefinitions merges the definitions of several packages.
func openAPIDefinitions(gets ...openapicommon.GetOpenAPIDefinitions) openapicommon.GetOpenAPIDefinitions {
	return func(ref openapicommon.ReferenceCallback) map[string]openapicommon.OpenAPIDefinition {
		defs := map[string]openapicommon.OpenAPIDefinition{}
		for _, get := range gets {
			for name, def := range get(ref) {
				defs[name] = def
			}
		}
		return defs
	}
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr {
	return s.addr
}

// Run serves until ctx is done, then drains the requests in flight and
// returns. It is called once.
func (s *Server) Run(ctx context.Context) error {
	return s.generic.PrepareRun().RunWithContext(ctx)
}
