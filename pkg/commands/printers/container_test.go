package printers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestProbeSummaries(t *testing.T) {
	for _, tc := range []struct {
		probe corev1.Probe
		want  string
	}{
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}, "TCP at the container's port"},
		{
			corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 2},
			"HTTP GET /healthz at :8080, every 2s",
		},
		{
			corev1.Probe{
				ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Scheme: corev1.URISchemeHTTPS, Host: "example.com", Path: "/", Port: intstr.FromString("h2c")}},
				InitialDelaySeconds: 5, TimeoutSeconds: 1, FailureThreshold: 3,
			},
			"HTTPS GET / at example.com:h2c, after 5s, timeout 1s, failing after 3",
		},
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}}}, "exec cat /tmp/ready"},
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}, "gRPC at :9000"},
		{corev1.Probe{PeriodSeconds: 1}, "the platform's default, every 1s"},
	} {
		if got := probe(&tc.probe); got != tc.want {
			t.Errorf("probe(%+v) = %q, want %q", tc.probe, got, tc.want)
		}
	}
}
