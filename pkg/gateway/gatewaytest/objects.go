package gatewaytest

import (
	"net"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"flywheel.dev/pkg/gateway/routing"
)

// Namespace is where the objects are unless an option says otherwise.
const Namespace = "demo"

// ClassName is the GatewayClass of Gateway.
const ClassName = "flywheel"

// Gateway returns a Gateway of ClassName in Namespace with one HTTP
// listener "http" on port 80 that allows routes from all namespaces.
func Gateway(name string, opts ...func(*gatewayv1.Gateway)) *gatewayv1.Gateway {
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Generation: 1},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: ClassName,
			Listeners: []gatewayv1.Listener{{
				Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr.To(gatewayv1.NamespacesFromAll)}},
			}},
		},
	}
	for _, o := range opts {
		o(gw)
	}
	return gw
}

// GatewayClass returns a GatewayClass of controller.
func GatewayClass(name string, controller gatewayv1.GatewayController) *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: controller},
	}
}

// HTTPRoute returns an HTTPRoute in Namespace attached to the Gateway
// gateway (in Namespace), created at a fixed time, with no rules.
func HTTPRoute(name, gateway string, opts ...func(*gatewayv1.HTTPRoute)) *gatewayv1.HTTPRoute {
	hr := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: Namespace, Generation: 1,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
				Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: ptr.To(gatewayv1.Kind("Gateway")),
				Namespace: ptr.To(gatewayv1.Namespace(Namespace)), Name: gatewayv1.ObjectName(gateway),
			}}},
		},
	}
	for _, o := range opts {
		o(hr)
	}
	return hr
}

// WithHostnames sets the route's hostnames.
func WithHostnames(hosts ...string) func(*gatewayv1.HTTPRoute) {
	return func(hr *gatewayv1.HTTPRoute) {
		for _, h := range hosts {
			hr.Spec.Hostnames = append(hr.Spec.Hostnames, gatewayv1.Hostname(h))
		}
	}
}

// WithRule appends a rule.
func WithRule(rule gatewayv1.HTTPRouteRule) func(*gatewayv1.HTTPRoute) {
	return func(hr *gatewayv1.HTTPRoute) { hr.Spec.Rules = append(hr.Spec.Rules, rule) }
}

// WithCreated sets the creation time.
func WithCreated(t time.Time) func(*gatewayv1.HTTPRoute) {
	return func(hr *gatewayv1.HTTPRoute) { hr.CreationTimestamp = metav1.NewTime(t) }
}

// Rule returns a rule with matches and backends.
func Rule(matches []gatewayv1.HTTPRouteMatch, backends ...gatewayv1.HTTPBackendRef) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{Matches: matches, BackendRefs: backends}
}

// PathPrefix matches the path segment p and what lies under it.
func PathPrefix(p string) gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(p)}}
}

// Exact matches the path p exactly.
func Exact(p string) gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchExact), Value: ptr.To(p)}}
}

// WithHeader adds an Exact header match to m.
func WithHeader(m gatewayv1.HTTPRouteMatch, name, value string) gatewayv1.HTTPRouteMatch {
	m.Headers = append(m.Headers, gatewayv1.HTTPHeaderMatch{Type: ptr.To(gatewayv1.HeaderMatchExact), Name: gatewayv1.HTTPHeaderName(name), Value: value})
	return m
}

// WithMethod adds a method match to m.
func WithMethod(m gatewayv1.HTTPRouteMatch, method string) gatewayv1.HTTPRouteMatch {
	m.Method = ptr.To(gatewayv1.HTTPMethod(method))
	return m
}

// Backend is a reference to port of Service name in the route's
// namespace, with weight.
func Backend(name string, port, weight int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{
			Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")),
			Name: gatewayv1.ObjectName(name), Port: ptr.To(port),
		},
		Weight: ptr.To(weight),
	}}
}

// Service returns a Service in Namespace with one TCP port named "http"
// that maps port to targetPort.
func Service(name string, port, targetPort int32, opts ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(targetPort),
		}}},
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

// H2C marks the Service's ports as h2c.
func H2C(svc *corev1.Service) {
	for i := range svc.Spec.Ports {
		svc.Spec.Ports[i].AppProtocol = ptr.To(routing.H2CAppProtocol)
	}
}

// EndpointSlice returns a ready EndpointSlice of Service service, named
// after it, with one endpoint per ip:port address and the port named
// "http" (all addresses must share a port).
func EndpointSlice(service string, addresses ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: service + "-slice", Namespace: Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, a := range addresses {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			panic(err)
		}
		p, _ := strconv.Atoi(port)
		s.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(p))}}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{host},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return s
}

// Objects are what a routing input is made of.
type Objects struct {
	Routes     []*gatewayv1.HTTPRoute
	Services   []*corev1.Service
	Slices     []*discoveryv1.EndpointSlice
	Namespaces map[string]labels.Set
}

// Input returns the routing input of gw over o, with a fresh endpoint
// pool unless pool is given.
func (o Objects) Input(gw *gatewayv1.Gateway, pool *routing.EndpointPool) routing.Input {
	if pool == nil {
		pool = routing.NewEndpointPool()
	}
	return routing.Input{
		Gateway: gw,
		Routes:  o.Routes,
		NamespaceLabels: func(name string) (labels.Set, bool) {
			l, ok := o.Namespaces[name]
			return l, ok
		},
		Service: func(namespace, name string) (*corev1.Service, bool) {
			for _, s := range o.Services {
				if s.Namespace == namespace && s.Name == name {
					return s, true
				}
			}
			return nil, false
		},
		EndpointSlices: func(namespace, service string) []*discoveryv1.EndpointSlice {
			var out []*discoveryv1.EndpointSlice
			for _, s := range o.Slices {
				if s.Namespace == namespace && s.Labels[discoveryv1.LabelServiceName] == service {
					out = append(out, s)
				}
			}
			return out
		},
		Endpoints: pool,
	}
}
