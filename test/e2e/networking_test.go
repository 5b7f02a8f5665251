//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/test/e2e/testdata/netprobe/probe"
)

// netprobeImage answers /dial, /lookup and /get from inside its pod and
// echoes on echoPort over TCP and UDP.
const (
	netprobeImage = "ko://flywheel.dev/test/e2e/testdata/netprobe"
	echoPort      = 9000
)

// TestServiceTrafficAndDNS runs two netprobe pods, one behind a ClusterIP
// Service and a headless one, and from the other checks what any cluster
// gives a pod: a ClusterIP reaches a ready endpoint over TCP and UDP, a
// Service without endpoints refuses at once, and the cluster DNS answers
// Services, headless Services' pods, named ports and names that do not
// exist.
func TestServiceTrafficAndDNS(t *testing.T) {
	ns := newNamespace(t, "net")
	echoIP := runNetprobe(t, ns, "echo")
	clientIP := runNetprobe(t, ns, "client")
	services := cluster.Kube.CoreV1().Services(ns)
	echo, err := services.Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
				{Name: "echo-tcp", Port: echoPort, Protocol: corev1.ProtocolTCP},
				{Name: "echo-udp", Port: echoPort, Protocol: corev1.ProtocolUDP},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := services.Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-headless"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"app": "echo"},
			Ports:     []corev1.ServicePort{{Name: "http", Port: 8080}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	empty, err := services.Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "empty"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "nothing-has-this"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP := echo.Spec.ClusterIP
	fqdn := "echo." + ns + ".svc.cluster.local"

	t.Run("TCP to a ClusterIP reaches the endpoint", func(t *testing.T) {
		r := probeUntil(t, clientIP, "/dial", url.Values{"proto": {"tcp"}, "addr": {net.JoinHostPort(clusterIP, fmt.Sprint(echoPort))}}, isOK)
		if !strings.HasPrefix(r.Reply, "tcp echo-") {
			t.Errorf("the echo over TCP answered %q, want the echo pod's", r.Reply)
		}
	})
	t.Run("UDP to a ClusterIP reaches the endpoint", func(t *testing.T) {
		r := probeUntil(t, clientIP, "/dial", url.Values{"proto": {"udp"}, "addr": {net.JoinHostPort(clusterIP, fmt.Sprint(echoPort))}}, isOK)
		if !strings.HasPrefix(r.Reply, "udp echo-") {
			t.Errorf("the echo over UDP answered %q, want the echo pod's", r.Reply)
		}
	})
	t.Run("a Service without endpoints refuses", func(t *testing.T) {
		r := probeUntil(t, clientIP, "/dial", url.Values{"proto": {"tcp"}, "send": {"no"}, "addr": {net.JoinHostPort(empty.Spec.ClusterIP, "80")}}, func(r probe.Result) bool { return r.Refused })
		t.Logf("refused in %.1f ms: %s", r.Millis, r.Error)
	})
	t.Run("A record of a Service", func(t *testing.T) {
		for _, name := range []string{fqdn, "echo", "echo." + ns} {
			r := probeUntil(t, clientIP, "/lookup", url.Values{"name": {name}}, isOK)
			if !slices.Equal(r.Addrs, []string{clusterIP}) {
				t.Errorf("%s resolved to %v, want [%s]", name, r.Addrs, clusterIP)
			}
		}
	})
	t.Run("A records of a headless Service are its pods", func(t *testing.T) {
		r := probeUntil(t, clientIP, "/lookup", url.Values{"name": {"echo-headless." + ns + ".svc.cluster.local"}}, isOK)
		if !slices.Equal(r.Addrs, []string{echoIP}) {
			t.Errorf("the headless Service resolved to %v, want the echo pod's [%s]", r.Addrs, echoIP)
		}
	})
	t.Run("SRV record of a named port", func(t *testing.T) {
		r := probeUntil(t, clientIP, "/lookup", url.Values{"type": {"SRV"}, "service": {"http"}, "proto": {"tcp"}, "name": {fqdn}}, isOK)
		if want := []string{fqdn + ".:80"}; !slices.Equal(r.SRV, want) {
			t.Errorf("_http._tcp.%s = %v, want %v", fqdn, r.SRV, want)
		}
	})
	t.Run("NXDOMAIN for a name that does not exist", func(t *testing.T) {
		r := probeUntil(t, clientIP, "/lookup", url.Values{"name": {"nothing-here." + ns + ".svc.cluster.local."}}, func(r probe.Result) bool { return r.NotFound })
		t.Logf("NXDOMAIN in %.1f ms", r.Millis)
	})
	t.Run("the API server at kubernetes.default.svc", func(t *testing.T) {
		probeUntil(t, clientIP, "/dial", url.Values{"proto": {"tcp"}, "send": {"no"}, "addr": {"kubernetes.default.svc:443"}}, isOK)
	})
}

// TestServiceCallsServiceByClusterLocalURL deploys a Knative Service that
// calls another by its cluster-local URL, as apps do on any cluster, and a
// cluster-local one, which answers pods and not the host.
func TestServiceCallsServiceByClusterLocalURL(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "calls")
	callee, err := client.ServingV1().Services(ns).Create(t.Context(), helloService(ns, "callee", "caller"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	private := helloService(ns, "private", "inside")
	private.Labels = map[string]string{serving.VisibilityLabel.String(): serving.VisibilityClusterLocal}
	if private, err = client.ServingV1().Services(ns).Create(t.Context(), private, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	caller, err := client.ServingV1().Services(ns).Create(t.Context(), &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "caller", Namespace: ns},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: netprobeImage}}}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, client, ns, "callee", callee.Generation)
	waitReady(t, client, ns, "private", private.Generation)
	ready := waitReady(t, client, ns, "caller", caller.Generation)

	// From the host through the external Gateway to the caller, which
	// calls the others by name from its pod.
	for _, tc := range []struct{ url, want string }{
		{"http://callee." + ns + ".svc.cluster.local/", "Hello caller!"},
		{"http://callee." + ns + ".svc/", "Hello caller!"},
		{"http://private." + ns + ".svc.cluster.local/", "Hello inside!"},
	} {
		var r probe.Result
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			code, body, err := request(ctx, cluster.GatewayAddr, ready.Status.URL.Host, "/get?"+url.Values{"url": {tc.url}}.Encode(), nil)
			if err != nil || code != http.StatusOK {
				return false, nil
			}
			r = probe.Result{}
			return json.Unmarshal([]byte(body), &r) == nil && r.OK && r.Status == http.StatusOK, nil
		})
		if err != nil {
			t.Fatalf("the caller never got a 200 from %s; last: %+v", tc.url, r)
		}
		if !strings.Contains(r.Reply, tc.want) {
			t.Errorf("%s answered the caller %q, want %q", tc.url, r.Reply, tc.want)
		}
	}
	// From the host the cluster-local Route is not served: the external
	// Gateway does not know it, and nothing on the host listens for the
	// cluster-local one.
	host := "private." + ns + ".svc.cluster.local"
	if code, body, err := get(t.Context(), host, nil); err != nil || code != http.StatusNotFound {
		t.Errorf("the external Gateway answered %d %q (%v) for cluster-local host %s, want 404", code, body, err, host)
	}
	// Nor can the host reach the cluster-local Gateway's Service: its
	// ClusterIP is routed nowhere from the host (the attempt fails on the
	// spot, no packet leaves).
	svcName := apisconfig.DefaultNetwork().ClusterLocalGatewayService
	local, err := cluster.Kube.CoreV1().Services(svcName.Namespace).Get(t.Context(), svcName.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(local.Spec.ClusterIP, "80"), 2*time.Second); err == nil {
		_ = c.Close()
		t.Errorf("the host reached the cluster-local Gateway at %s", local.Spec.ClusterIP)
	}
}

// runNetprobe runs netprobe as a Deployment of one pod labelled app=name
// and returns the pod's IP once it is ready.
func runNetprobe(t testing.TB, ns, name string) string {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := cluster.Kube.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "netprobe",
					Image: netprobeImage,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")},
					}},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ip string
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.Status.PodIP != "" {
					ip = p.Status.PodIP
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("netprobe %s/%s never became ready: %v", ns, name, err)
	}
	return ip
}

func isOK(r probe.Result) bool { return r.OK }

// probeUntil asks the netprobe pod at podIP for path with query until its
// answer satisfies done (for a minute: kube-proxy and CoreDNS learn of a
// new Service within a second or two), and returns that answer.
func probeUntil(t testing.TB, podIP, path string, query url.Values, done func(probe.Result) bool) probe.Result {
	t.Helper()
	u := "http://" + net.JoinHostPort(podIP, "8080") + path + "?" + query.Encode()
	var last probe.Result
	var lastErr error
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last, lastErr = probe.Result{}, nil
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false, err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			lastErr = err
			return false, nil
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&last); err != nil {
			lastErr = err
			return false, nil
		}
		return done(last), nil
	})
	if err != nil {
		t.Fatalf("%s %v from the pod at %s: never as wanted; last answer %+v (%v)", path, query, podIP, last, lastErr)
	}
	return last
}
