package controlplane

import (
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/util/keyutil"
)

// readPKI writes a PKI to a temporary directory and parses it back from
// disk, as the control-plane binaries will.
func readPKI(t *testing.T) (*pki, func(path string) *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	p, err := writePKI(dir, netip.MustParseAddr("10.96.0.1"), []netip.Addr{netip.MustParseAddr("10.244.0.1")}, time.Now())
	if err != nil {
		t.Fatalf("writePKI: %v", err)
	}
	load := func(path string) *x509.Certificate {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		block, rest := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
			t.Fatalf("%s: want exactly one PEM certificate", path)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return c
	}
	return p, load
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestAPIServerCertificateServesEveryName(t *testing.T) {
	p, load := readPKI(t)
	ca, serving := load(p.caCert), load(p.apiserverCert)
	names := []string{
		"127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", "10.96.0.1", "10.244.0.1",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			_, err := serving.Verify(x509.VerifyOptions{
				DNSName:   name,
				Roots:     pool(ca),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				t.Errorf("a client connecting to %s rejects the API server's certificate: %v", name, err)
			}
		})
	}
	if _, err := serving.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool(ca)}); err == nil {
		t.Error("the API server's certificate is valid for example.com; want only its own names")
	}
}

func TestClientCertificates(t *testing.T) {
	p, load := readPKI(t)
	ca, frontProxyCA := load(p.caCert), load(p.frontProxyCACert)
	tests := []struct {
		name     string
		cert     string
		ca       *x509.Certificate
		wantCN   string
		wantOrgs []string
	}{
		{name: "admin", cert: p.adminCert, ca: ca, wantCN: "flywheel-admin", wantOrgs: []string{"system:masters"}},
		{name: "controller manager", cert: p.controllerManagerCert, ca: ca, wantCN: "system:kube-controller-manager"},
		{name: "kubelet client", cert: p.kubeletClientCert, ca: ca, wantCN: "kube-apiserver-kubelet-client", wantOrgs: []string{"system:masters"}},
		{name: "front proxy", cert: p.frontProxyClientCert, ca: frontProxyCA, wantCN: "front-proxy-client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := load(tc.cert)
			if _, err := c.Verify(x509.VerifyOptions{
				Roots: pool(tc.ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}); err != nil {
				t.Errorf("the certificate does not verify as a client certificate of its CA: %v", err)
			}
			// A client certificate that could also serve would let its
			// holder impersonate the API server.
			if _, err := c.Verify(x509.VerifyOptions{
				Roots: pool(tc.ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}); err == nil {
				t.Error("the client certificate is also valid for serving")
			}
			if c.Subject.CommonName != tc.wantCN {
				t.Errorf("common name (the user name) = %q, want %q", c.Subject.CommonName, tc.wantCN)
			}
			if diff := cmp.Diff(tc.wantOrgs, c.Subject.Organization); diff != "" {
				t.Errorf("organizations (the groups) (-want, +got):\n%s", diff)
			}
		})
	}
}

// The front-proxy CA is separate so that a client certificate from the
// cluster CA cannot pass as the API server proxying for another user.
func TestFrontProxyClientIsNotTrustedByTheClusterCA(t *testing.T) {
	p, load := readPKI(t)
	if _, err := load(p.frontProxyClientCert).Verify(x509.VerifyOptions{
		Roots: pool(load(p.caCert)), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err == nil {
		t.Error("the front-proxy client certificate verifies against the cluster CA")
	}
	if _, err := load(p.adminCert).Verify(x509.VerifyOptions{
		Roots: pool(load(p.frontProxyCACert)), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err == nil {
		t.Error("the admin certificate verifies against the front-proxy CA")
	}
}

func TestCAsAreCAs(t *testing.T) {
	p, load := readPKI(t)
	for _, path := range []string{p.caCert, p.frontProxyCACert} {
		c := load(path)
		if !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("%s: IsCA = %v, key usage %b; want a CA that signs certificates", path, c.IsCA, c.KeyUsage)
		}
	}
}

func TestKeysMatchTheirCertificatesAndArePrivate(t *testing.T) {
	p, _ := readPKI(t)
	pairs := [][2]string{
		{p.caCert, p.caKey}, {p.adminCert, p.adminKey}, {p.frontProxyCACert, p.frontProxyCAKey},
		{p.frontProxyClientCert, p.frontProxyClientKey}, {p.apiserverCert, p.apiserverKey},
		{p.kubeletClientCert, p.kubeletClientKey}, {p.controllerManagerCert, p.controllerManagerKey},
		{p.controllerManagerServingCert, p.controllerManagerServingKey},
	}
	for _, pair := range pairs {
		// LoadX509KeyPair is what Kubernetes' serving and client code use,
		// and it fails when the key does not belong to the certificate.
		if _, err := tls.LoadX509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("loading %s with %s: %v", pair[0], pair[1], err)
		}
		if _, err := keyutil.PrivateKeyFromFile(pair[1]); err != nil {
			t.Errorf("%s: the Kubernetes key loader cannot read it: %v", pair[1], err)
		}
		if st, err := os.Stat(pair[1]); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", pair[1], st.Mode().Perm(), err)
		}
	}
}

func TestServiceAccountKeyPair(t *testing.T) {
	p, _ := readPKI(t)
	key, err := keyutil.PrivateKeyFromFile(p.serviceAccountKey)
	if err != nil {
		t.Fatalf("the Kubernetes key loader cannot read the signing key: %v", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("signing key is %T, want *rsa.PrivateKey (RS256)", key)
	}
	pubs, err := keyutil.PublicKeysFromFile(p.serviceAccountPub)
	if err != nil || len(pubs) != 1 {
		t.Fatalf("public key file: %d keys, %v; want one", len(pubs), err)
	}
	if !rsaKey.PublicKey.Equal(pubs[0]) {
		t.Error("the public key does not belong to the signing key")
	}
}

func TestFirstServiceIP(t *testing.T) {
	tests := []struct {
		cidr    string
		want    string
		wantErr bool
	}{
		{cidr: "10.96.0.0/16", want: "10.96.0.1"},
		{cidr: "10.96.3.4/16", want: "10.96.0.1"},
		{cidr: "fd00:10:96::/108", want: "fd00:10:96::1"},
		{cidr: "10.0.0.7/32", wantErr: true},
		{cidr: "not-a-cidr", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.cidr, func(t *testing.T) {
			got, err := firstServiceIP(tc.cidr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("firstServiceIP(%q) error = %v, want error %v", tc.cidr, err, tc.wantErr)
			}
			if err == nil && got.String() != tc.want {
				t.Errorf("firstServiceIP(%q) = %s, want %s", tc.cidr, got, tc.want)
			}
		})
	}
}

func TestAnEarlierRunsCAsAndServiceAccountKeyAreKept(t *testing.T) {
	dir := t.TempDir()
	serviceIP := netip.MustParseAddr("10.96.0.1")
	first, err := writePKI(dir, serviceIP, nil, time.Now())
	if err != nil {
		t.Fatalf("writePKI: %v", err)
	}
	read := func(path string) []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	before := map[string][]byte{}
	for _, path := range []string{first.caCert, first.caKey, first.frontProxyCACert, first.frontProxyCAKey, first.serviceAccountKey, first.serviceAccountPub} {
		before[path] = read(path)
	}
	oldAdmin, oldAdminKey := read(first.adminCert), read(first.adminKey)

	// A later run names another serving address.
	second, err := writePKI(dir, serviceIP, []netip.Addr{netip.MustParseAddr("10.244.0.1")}, time.Now())
	if err != nil {
		t.Fatalf("writePKI again: %v", err)
	}
	for path, b := range before {
		if !bytes.Equal(read(path), b) {
			t.Errorf("%s changed on the second run; the cluster's data was made under it", path)
		}
	}
	if bytes.Equal(read(second.adminCert), oldAdmin) {
		t.Error("the admin certificate was not issued anew")
	}
	// What the first run handed out (a saved kubeconfig's client
	// certificate) is still trusted, and the new serving certificate
	// names the new address.
	roots := pool(second.ca.cert)
	oldAdminCert, err := parseKeyPair(oldAdmin, oldAdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldAdminCert.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the first run's admin certificate is no longer trusted: %v", err)
	}
	serving, err := parseKeyPair(read(second.apiserverCert), read(second.apiserverKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := serving.cert.VerifyHostname("10.244.0.1"); err != nil {
		t.Errorf("the second run's serving certificate: %v", err)
	}
}

func TestAnUnreadableCAOfAnEarlierRunIsAnErrorNotReplaced(t *testing.T) {
	dir := t.TempDir()
	if _, err := writePKI(dir, netip.MustParseAddr("10.96.0.1"), nil, time.Now()); err != nil {
		t.Fatalf("writePKI: %v", err)
	}
	caKey := dir + "/ca.key"
	if err := os.WriteFile(caKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := writePKI(dir, netip.MustParseAddr("10.96.0.1"), nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "ca.crt") || !strings.Contains(err.Error(), "to start a new cluster") {
		t.Fatalf("writePKI with a broken CA key: got %v, want an error naming ca.crt and the fix", err)
	}
	if b, _ := os.ReadFile(caKey); string(b) != "not a key" {
		t.Error("the broken CA key was replaced")
	}
}
