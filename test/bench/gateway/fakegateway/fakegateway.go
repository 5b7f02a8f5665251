package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/gateway"
	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/status"
	revisionnames "flywheel.dev/pkg/reconciler/revision/resources/names"
	"flywheel.dev/pkg/telemetry/providers"
	"flywheel.dev/test/bench/internal/benchkit"
)

// The one route the gateway serves: a Revision of a Service in
// gatewaytest's namespace, through Gateway benchGateway.
const (
	benchGateway  = "bench"
	benchRevision = "hello-00001"
	// backendPort is the port of the Revision's public Service that the
	// route sends to, as the Route reconciler's routes do.
	backendPort = 80
)

// routeConfig is what the gateway's route sends where.
type routeConfig struct {
	// host is the route's hostname.
	host string
	// backend is the host:port the Revision's endpoints are at: the app,
	// or the activator standing in for the Revision's pods.
	backend string
}

// gatewayKey is the Gateway the process serves.
var gatewayKey = types.NamespacedName{Namespace: gt.Namespace, Name: benchGateway}

// newClients returns fake clientsets holding what the API server would
// for one Revision served through the gateway: a GatewayClass of the
// gateway's controller, a Gateway of it, an HTTPRoute for rc.host whose
// one rule sends every path to the Revision's public Service on port 80
// and names the Revision in the request headers the activator reads
// (the routing layer sets them on every request to a Revision), the
// Service, and an EndpointSlice of it at rc.backend.
func newClients(ctx context.Context, rc routeConfig) (*kubefake.Clientset, *gatewayfake.Clientset, error) {
	host, port, err := net.SplitHostPort(rc.backend)
	if err != nil {
		return nil, nil, fmt.Errorf("backend %q: %w", rc.backend, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || net.ParseIP(host).To4() == nil {
		return nil, nil, fmt.Errorf("backend %q: want IPv4:PORT", rc.backend)
	}
	service := revisionnames.PublicService(benchRevision)
	rule := gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/")}, gt.Backend(service, backendPort, 100))
	rule.Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{
			{Name: serving.RevisionHeader, Value: benchRevision},
			{Name: serving.NamespaceHeader, Value: gt.Namespace},
		}},
	}}
	route := gt.HTTPRoute(benchRevision, benchGateway, gt.WithHostnames(rc.host), gt.WithRule(rule))

	kube := kubefake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gt.Namespace}},
		gt.Service(service, backendPort, int32(p)),
		gt.EndpointSlice(service, rc.backend),
	)
	// The simple fake, as pkg/gateway's tests use: the field-managed one
	// does not know the Gateway resource, and Gateways given to the
	// constructor are filed under another version, so it is created.
	gws := gatewayfake.NewSimpleClientset(gt.GatewayClass(gt.ClassName, status.ControllerName), route)
	if _, err := gws.GatewayV1().Gateways(gt.Namespace).Create(ctx, gt.Gateway(benchGateway), metav1.CreateOptions{}); err != nil {
		return nil, nil, err
	}
	return kube, gws, nil
}

// newGateway returns a gateway serving rc on listen, its health
// endpoints on admin. It stops at once when told to: nothing needs
// draining between levels.
func newGateway(ctx context.Context, rc routeConfig, listen, admin string, tracer *providers.Tracer, log *slog.Logger) (*gateway.Gateway, error) {
	kube, gws, err := newClients(ctx, rc)
	if err != nil {
		return nil, err
	}
	return gateway.New(gateway.Config{
		Kube: kube, GatewayAPI: gws,
		Listen:          map[types.NamespacedName]string{gatewayKey: listen},
		AdminAddress:    admin,
		DrainWindow:     -1,
		ShutdownTimeout: 2 * time.Second,
		Logger:          log,
		Tracer:          tracer,
	})
}

// newTracer returns a tracer that samples every request and exports its
// spans over OTLP/HTTP to endpoint, as the gateway's own with
// config-observability's tracing on; metrics stay off, so that a traced
// run differs from an untraced one by the tracing alone. The caller
// shuts the Telemetry down, which sends what is buffered.
func newTracer(ctx context.Context, endpoint string, log *slog.Logger) (*providers.Telemetry, *providers.Tracer, error) {
	cfg, err := providers.ParseConfig(map[string]string{
		providers.KeyMetricsProtocol:     "none",
		providers.KeyTracingProtocol:     "http/protobuf",
		providers.KeyTracingEndpoint:     endpoint,
		providers.KeyTracingSamplingRate: "1",
	})
	if err != nil {
		return nil, nil, err
	}
	tel, err := providers.NewWithOptions(ctx, "gateway", cfg, providers.Options{Logger: log, ScrapedElsewhere: true})
	if err != nil {
		return nil, nil, err
	}
	return tel, tel.Tracer("flywheel.dev/pkg/gateway"), nil
}

func main() {
	fs := flag.NewFlagSet("fakegateway", flag.ExitOnError)
	role := fs.String("role", "gateway", "what to run: gateway (routing --host to --backend) or activator (holding the route's Revision, its pod at --backend)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve requests on")
	admin := fs.String("admin", "127.0.0.1:9091", "address of the health endpoints")
	host := fs.String("host", "", "the route's hostname; required for the gateway")
	backend := fs.String("backend", "", "IPv4:PORT of the Revision's endpoint (the gateway's) or pod (the activator's); required")
	pprofAddr := fs.String("pprof", "", "serve Go's pprof on this address")
	traceEndpoint := fs.String("trace-endpoint", "", "trace every request of the gateway, exported over OTLP/HTTP to this URL (.../v1/traces)")
	_ = fs.Parse(os.Args[1:])
	if *backend == "" || (*role == "gateway" && *host == "") {
		fmt.Fprintln(os.Stderr, "fakegateway: --backend is required, and --host with --role gateway")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var run func(context.Context) error
	var tel *providers.Telemetry
	switch *role {
	case "gateway":
		var tracer *providers.Tracer
		if *traceEndpoint != "" {
			var err error
			if tel, tracer, err = newTracer(ctx, *traceEndpoint, log); err != nil {
				fmt.Fprintf(os.Stderr, "fakegateway: %v\n", err)
				os.Exit(1)
			}
		}
		g, err := newGateway(ctx, routeConfig{host: *host, backend: *backend}, *listen, *admin, tracer, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakegateway: %v\n", err)
			os.Exit(1)
		}
		run = g.Run
	case "activator":
		a, err := newActivator(*backend, *listen, *admin, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakegateway: %v\n", err)
			os.Exit(1)
		}
		run = a.Run
	default:
		fmt.Fprintf(os.Stderr, "fakegateway: --role %q: want gateway or activator\n", *role)
		os.Exit(2)
	}
	err := serve(ctx, run, *pprofAddr, log)
	stop()
	if tel != nil {
		_ = tel.Shutdown(context.Background())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakegateway: %v\n", err)
		os.Exit(1)
	}
}

// serve runs the component, and pprof when pprofAddr is set, until ctx
// ends.
func serve(ctx context.Context, run func(context.Context) error, pprofAddr string, log *slog.Logger) error {
	if pprofAddr != "" {
		l, err := net.Listen("tcp", pprofAddr)
		if err != nil {
			return err
		}
		go func() {
			srv := &http.Server{Handler: benchkit.PprofHandler(), ReadHeaderTimeout: 10 * time.Second}
			if err := benchkit.ServeUntilDone(ctx, srv, l); err != nil {
				log.Error("serving pprof", "error", err)
			}
		}()
	}
	return run(ctx)
}
