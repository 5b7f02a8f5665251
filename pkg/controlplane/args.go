package controlplane

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// etcdArgs runs a single-member etcd on loopback. Plain http is enough:
// nothing but the API server on the same host ever connects.
func etcdArgs(dataDir string, clientPort, peerPort int) []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	return []string{
		"--name=flywheel",
		"--data-dir=" + filepath.Join(dataDir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=flywheel=" + peer,
	}
}

// apiserverArgs configures kube-apiserver for everything Flywheel adds on
// top: RBAC-checked components with their own ServiceAccounts, admission
// webhooks (on by default), aggregated APIs (requestheader and proxy
// client flags) and bound service-account tokens.
func apiserverArgs(p *pki, etcdURL string, port int, opts Options) []string {
	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The kubernetes Service is still created, but its Endpoints would
		// hold the advertise address, and validation refuses loopback
		// there: the default reconciler would fail every 10 s. Pods reach
		// the API server through what the process node sets up instead.
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", port),
		"--etcd-servers=" + etcdURL,
		"--tls-cert-file=" + p.apiserverCert,
		"--tls-private-key-file=" + p.apiserverKey,
		"--client-ca-file=" + p.caCert,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--service-cluster-ip-range=" + opts.ServiceClusterIPRange,
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + p.serviceAccountPub,
		"--service-account-signing-key-file=" + p.serviceAccountKey,
		"--api-audiences=" + ServiceAccountIssuer,
		"--requestheader-client-ca-file=" + p.frontProxyCACert,
		"--requestheader-allowed-names=" + FrontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.frontProxyClientCert,
		"--proxy-client-key-file=" + p.frontProxyClientKey,
		// Aggregated API servers run without kube-proxy, so the API server
		// must dial their endpoints, not their Service's cluster IP.
		"--enable-aggregator-routing=true",
		"--kubelet-client-certificate=" + p.kubeletClientCert,
		"--kubelet-client-key=" + p.kubeletClientKey,
		// Its default, /var/run/kubernetes, is shared between control
		// planes and needs root; with the TLS files given it stays empty.
		"--cert-dir=" + filepath.Join(filepath.Dir(p.caCert), "apiserver"),
	}
	if g := featureGates(opts.FeatureGates); g != "" {
		args = append(args, "--feature-gates="+g)
	}
	return args
}

// controllerManagerArgs runs every default controller with a per-controller
// ServiceAccount, so RBAC problems show up here as on a real cluster.
func controllerManagerArgs(p *pki, dataDir, kubeconfig string, port int, opts Options) []string {
	args := []string{
		"--kubeconfig=" + kubeconfig,
		// Delegated authentication and authorization guard its /metrics;
		// /healthz is always allowed.
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + p.controllerManagerServingCert,
		"--tls-private-key-file=" + p.controllerManagerServingKey,
		"--service-account-private-key-file=" + p.serviceAccountKey,
		"--root-ca-file=" + p.caCert,
		"--cluster-signing-cert-file=" + p.caCert,
		"--cluster-signing-key-file=" + p.caKey,
		"--use-service-account-credentials=true",
		// One instance: leader election would only delay the start.
		"--leader-elect=false",
		"--controllers=*",
		"--horizontal-pod-autoscaler-sync-period=" + opts.HPASyncPeriod.String(),
		"--service-cluster-ip-range=" + opts.ServiceClusterIPRange,
		// Its default is under /usr/libexec, which it would create on the
		// host when run as root.
		"--flex-volume-plugin-dir=" + filepath.Join(dataDir, "flexvolume"),
	}
	if g := featureGates(opts.FeatureGates); g != "" {
		args = append(args, "--feature-gates="+g)
	}
	return args
}

// featureGates formats gates as --feature-gates wants them, sorted so
// that the command line is the same from run to run.
func featureGates(gates map[string]bool) string {
	kv := make([]string, 0, len(gates))
	for name, on := range gates {
		kv = append(kv, fmt.Sprintf("%s=%t", name, on))
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
