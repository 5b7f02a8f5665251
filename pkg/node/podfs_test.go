package node

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1"},
		Spec: corev1.PodSpec{
			Hostname: "web", Subdomain: "svc",
			HostAliases: []corev1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{"db", "db.local"}}},
		},
	}
	want := "# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n" +
		"10.244.0.5\tweb.svc.ns.svc.cluster.local\tweb\n" +
		"\n# Entries added by HostAliases.\n" +
		"10.0.0.9\tdb\tdb.local\n"
	if diff := cmp.Diff(want, hostsFile(pod, "10.244.0.5", podHostname(pod), false)); diff != "" {
		t.Errorf("hosts (-want, +got):\n%s", diff)
	}
}

func TestPodHostname(t *testing.T) {
	long := "a-very-long-pod-name-that-goes-on-and-on-past-the-limit-of-a-dns-label"
	for _, tc := range []struct {
		pod  corev1.Pod
		want string
	}{
		{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, "p"},
		{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Hostname: "h"}}, "h"},
		{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: long}}, long[:63]},
	} {
		if got := podHostname(&tc.pod); got != tc.want {
			t.Errorf("podHostname(%s) = %q, want %q", tc.pod.Name, got, tc.want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	host := "# generated\nnameserver 192.0.2.53\nsearch example.org\noptions ndots:2 edns0\n"
	dnsConfig := &corev1.PodDNSConfig{
		Nameservers: []string{"192.0.2.54"},
		Searches:    []string{"svc.local"},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("5")}, {Name: "rotate"}},
	}
	dns := clusterDNS{servers: []netip.Addr{netip.MustParseAddr("10.96.0.10")}, domain: "cluster.local"}
	const clusterFirst = "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local example.org\noptions ndots:5\n"
	const hostFile = "nameserver 192.0.2.53\nsearch example.org\noptions ndots:2 edns0\n"
	for _, tc := range []struct {
		name        string
		spec        corev1.PodSpec
		hostNetwork bool
		noDNS       bool
		want        string
	}{{
		name:  "ClusterFirst without a cluster DNS is the host's",
		spec:  corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst},
		noDNS: true,
		want:  hostFile,
	}, {
		name: "ClusterFirst asks the cluster DNS, searching the namespace first",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst},
		want: clusterFirst,
	}, {
		name: "an unset policy is ClusterFirst",
		want: clusterFirst,
	}, {
		name:        "ClusterFirst in the host's network is the host's",
		spec:        corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, HostNetwork: true},
		hostNetwork: true,
		want:        hostFile,
	}, {
		name:        "ClusterFirstWithHostNet asks the cluster DNS from the host's network",
		spec:        corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet, HostNetwork: true},
		hostNetwork: true,
		want:        clusterFirst,
	}, {
		name: "Default is the host's",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault},
		want: hostFile,
	}, {
		name: "dnsConfig merged into ClusterFirst",
		spec: corev1.PodSpec{DNSConfig: dnsConfig},
		want: "nameserver 10.96.0.10\nnameserver 192.0.2.54\nsearch ns.svc.cluster.local svc.cluster.local cluster.local example.org svc.local\noptions ndots:5 rotate\n",
	}, {
		name: "dnsConfig merged into Default",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault, DNSConfig: dnsConfig},
		want: "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch example.org svc.local\noptions edns0 ndots:5 rotate\n",
	}, {
		name: "None is dnsConfig alone",
		spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: dnsConfig},
		want: "nameserver 192.0.2.54\nsearch svc.local\noptions ndots:5 rotate\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := dns
			if tc.noDNS {
				d = clusterDNS{}
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: tc.spec}
			if diff := cmp.Diff(tc.want, resolvConf(pod, host, tc.hostNetwork, d)); diff != "" {
				t.Errorf("resolv.conf (-want, +got):\n%s", diff)
			}
		})
	}
}
