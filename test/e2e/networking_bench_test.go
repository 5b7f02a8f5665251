//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"flywheel.dev/test/e2e/testdata/netprobe/probe"
)

// loadConcurrency is how many connections the client pod keeps busy.
const loadConcurrency = 8

// BenchmarkServiceTraffic measures, from a pod, what a Service costs in
// local mode: b.N HTTP requests to a netprobe pod by its address, then by
// its Service's ClusterIP (kube-proxy's rules on the path), and b.N DNS
// lookups of the Service's name through CoreDNS. Each sub-benchmark
// reports p50 and p99 in milliseconds and the rate; the ClusterIP's
// figures are read against the pod address's, measured in the same run.
//
//	go test -tags e2e -run '^$' -bench ServiceTraffic -benchtime 20000x ./test/e2e/
func BenchmarkServiceTraffic(b *testing.B) {
	ns := newNamespace(b, "bench-net")
	serverIP := runNetprobe(b, ns, "server")
	clientIP := runNetprobe(b, ns, "client")
	svc, err := cluster.Kube.CoreV1().Services(ns).Create(b.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "server"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "server"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	byService := "http://" + svc.Spec.ClusterIP + "/"
	// kube-proxy and CoreDNS learn of the Service first.
	probeUntil(b, clientIP, "/get", url.Values{"url": {byService}}, isOK)
	name := "server." + ns + ".svc.cluster.local."
	probeUntil(b, clientIP, "/lookup", url.Values{"name": {name}}, isOK)

	for _, bc := range []struct {
		name, path string
		query      url.Values
	}{
		{"pod-address", "/load", url.Values{"url": {"http://" + net.JoinHostPort(serverIP, "8080") + "/"}, "c": {fmt.Sprint(loadConcurrency)}}},
		{"cluster-ip", "/load", url.Values{"url": {byService}, "c": {fmt.Sprint(loadConcurrency)}}},
		{"dns-lookup", "/lookups", url.Values{"name": {name}, "c": {"1"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.query.Set("n", fmt.Sprint(b.N))
			b.ResetTimer()
			r := probeUntil(b, clientIP, bc.path, bc.query, func(r probe.Result) bool { return r.Load != nil })
			b.StopTimer()
			if !r.OK {
				b.Fatalf("%d of %d failed; the first: %s", r.Load.Errors, r.Load.Count, r.Load.FirstError)
			}
			b.ReportMetric(r.Load.P50, "p50-ms")
			b.ReportMetric(r.Load.P99, "p99-ms")
			b.ReportMetric(r.Load.PerSecond, "req/s")
		})
	}
}
