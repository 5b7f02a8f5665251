package controlplane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/keyutil"
)

const (
	// AdminUser is the common name of the admin client certificate. Its
	// organization system:masters is what makes it cluster-admin, with no
	// RBAC binding needed.
	AdminUser = "flywheel-admin"
	// FrontProxyClientName is the common name the API server accepts on
	// requests proxied to aggregated API servers (--requestheader-allowed-names).
	FrontProxyClientName = "front-proxy-client"

	controllerManagerUser = "system:kube-controller-manager"
	kubeletClientUser     = "kube-apiserver-kubelet-client"

	// Local clusters live for days, not years; a CA that outlives the
	// leaves lets long-running `fw local` sessions re-issue leaves later.
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// Back-dating hides small clock differences between the moment the
	// certificates are made and the moment a process first checks them.
	backdate = time.Hour
)

// keyPair is a certificate and its private key, parsed and as PEM.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// certSpec is what differs between the leaf certificates.
type certSpec struct {
	commonName   string
	organization []string
	dnsNames     []string
	ips          []net.IP
	extKeyUsage  []x509.ExtKeyUsage
}

// newCA makes a self-signed certificate authority.
func newCA(commonName string, now time.Time) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key of CA %s: %w", commonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski,
	}
	return sign(tmpl, tmpl, key.Public(), key, key)
}

// issue makes a leaf certificate signed by ca.
func (ca *keyPair) issue(spec certSpec, now time.Time) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key of %s: %w", spec.commonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.organization},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(leafValidity),
		// ECDSA keys only sign; key encipherment is an RSA-only usage.
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           spec.extKeyUsage,
		BasicConstraintsValid: true,
		DNSNames:              spec.dnsNames,
		IPAddresses:           spec.ips,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}
	return sign(tmpl, ca.cert, key.Public(), ca.key, key)
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, key *ecdsa.PrivateKey) (*keyPair, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing the certificate of %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("choosing a certificate serial number: %w", err)
	}
	return serial, nil
}

// subjectKeyID follows RFC 5280 4.2.1.2 method 1, so that the leaves'
// authority key ids point at their CA.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der)
	return sum[:], nil
}

// pki is the set of files Start writes under DataDir/pki, and the admin
// credentials it keeps in memory for RESTConfig.
type pki struct {
	caCert, caKey                                             string
	adminCert, adminKey                                       string
	frontProxyCACert, frontProxyCAKey                         string
	frontProxyClientCert, frontProxyClientKey                 string
	apiserverCert, apiserverKey                               string
	kubeletClientCert, kubeletClientKey                       string
	controllerManagerCert, controllerManagerKey               string
	controllerManagerServingCert, controllerManagerServingKey string
	serviceAccountKey, serviceAccountPub                      string

	ca, admin, controllerManager *keyPair
}

// apiserverSANs are the names under which clients reach the API server:
// loopback from the host, the in-cluster DNS names and the kubernetes
// Service's cluster IP from pods, and any more addresses that relay to it
// (Options.ServingIPs).
func apiserverSANs(serviceIP netip.Addr, more []netip.Addr) ([]string, []net.IP) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IP(serviceIP.AsSlice())}
	for _, ip := range more {
		ips = append(ips, net.IP(ip.AsSlice()))
	}
	return []string{
		"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
	}, ips
}

// writePKI writes every certificate and key the control plane needs to
// dir. serviceIP is the first address of the service range, which the
// kubernetes Service gets; servingIPs are more addresses the API server's
// certificate names.
//
// The two CAs and the service-account key of an earlier run in dir are
// kept: what etcd holds was made under them (webhook CA bundles signed by
// the cluster CA, service-account tokens in Secrets and kubeconfigs), and
// a kubeconfig saved then must still be trusted. The leaf certificates
// are issued anew each time, so that they name this run's addresses and
// never expire under a cluster that is restarted now and then.
func writePKI(dir string, serviceIP netip.Addr, servingIPs []netip.Addr, now time.Time) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{}
	var err error
	if p.ca, err = loadOrMakeCA(dir, "ca", "flywheel-ca", now); err != nil {
		return nil, err
	}
	frontProxyCA, err := loadOrMakeCA(dir, "front-proxy-ca", "flywheel-front-proxy-ca", now)
	if err != nil {
		return nil, err
	}
	dnsNames, ips := apiserverSANs(serviceIP, servingIPs)
	apiserver, err := p.ca.issue(certSpec{
		commonName: "kube-apiserver", dnsNames: dnsNames, ips: ips,
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, now)
	if err != nil {
		return nil, err
	}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if p.admin, err = p.ca.issue(certSpec{commonName: AdminUser, organization: []string{"system:masters"}, extKeyUsage: client}, now); err != nil {
		return nil, err
	}
	if p.controllerManager, err = p.ca.issue(certSpec{commonName: controllerManagerUser, extKeyUsage: client}, now); err != nil {
		return nil, err
	}
	cmServing, err := p.ca.issue(certSpec{
		commonName: "kube-controller-manager", dnsNames: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)},
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, now)
	if err != nil {
		return nil, err
	}
	// The process node serves the kubelet API (logs, exec); the API server
	// authenticates to it with this certificate, as kubeadm sets it up.
	kubeletClient, err := p.ca.issue(certSpec{commonName: kubeletClientUser, organization: []string{"system:masters"}, extKeyUsage: client}, now)
	if err != nil {
		return nil, err
	}
	frontProxyClient, err := frontProxyCA.issue(certSpec{commonName: FrontProxyClientName, extKeyUsage: client}, now)
	if err != nil {
		return nil, err
	}

	pairs := []struct {
		name              string
		kp                *keyPair
		certPath, keyPath *string
	}{
		{"ca", p.ca, &p.caCert, &p.caKey},
		{"admin", p.admin, &p.adminCert, &p.adminKey},
		{"front-proxy-ca", frontProxyCA, &p.frontProxyCACert, &p.frontProxyCAKey},
		{"front-proxy-client", frontProxyClient, &p.frontProxyClientCert, &p.frontProxyClientKey},
		{"apiserver", apiserver, &p.apiserverCert, &p.apiserverKey},
		{"apiserver-kubelet-client", kubeletClient, &p.kubeletClientCert, &p.kubeletClientKey},
		{"controller-manager", p.controllerManager, &p.controllerManagerCert, &p.controllerManagerKey},
		{"controller-manager-serving", cmServing, &p.controllerManagerServingCert, &p.controllerManagerServingKey},
	}
	for _, kp := range pairs {
		*kp.certPath = filepath.Join(dir, kp.name+".crt")
		*kp.keyPath = filepath.Join(dir, kp.name+".key")
		if err := writeFile(*kp.certPath, kp.kp.certPEM); err != nil {
			return nil, err
		}
		if err := writeFile(*kp.keyPath, kp.kp.keyPEM); err != nil {
			return nil, err
		}
	}

	p.serviceAccountKey = filepath.Join(dir, "sa.key")
	p.serviceAccountPub = filepath.Join(dir, "sa.pub")
	if _, err := keyutil.PublicKeysFromFile(p.serviceAccountPub); err == nil {
		if _, err := keyutil.PrivateKeyFromFile(p.serviceAccountKey); err == nil {
			return p, nil
		}
	}
	if err := writeServiceAccountKey(p.serviceAccountKey, p.serviceAccountPub); err != nil {
		return nil, err
	}
	return p, nil
}

// loadOrMakeCA reads the CA <name>.crt and <name>.key from dir, or makes
// one when they are missing. A CA that is there but unreadable, or due to
// expire within a leaf's validity, is an error naming the files rather
// than replaced in silence: replacing it would leave everything issued
// under it untrusted.
func loadOrMakeCA(dir, name, commonName string, now time.Time) (*keyPair, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist) {
		return newCA(commonName, now)
	}
	if err := errors.Join(certErr, keyErr); err != nil {
		return nil, fmt.Errorf("reading the CA of an earlier run: %w (remove %s to start a new cluster)", err, filepath.Dir(dir))
	}
	kp, err := parseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the CA %s of an earlier run: %w (remove %s to start a new cluster)", certPath, err, filepath.Dir(dir))
	}
	if !kp.cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate (remove %s to start a new cluster)", certPath, filepath.Dir(dir))
	}
	if kp.cert.NotAfter.Before(now.Add(leafValidity)) {
		return nil, fmt.Errorf("the CA %s expires on %s, before the certificates it would issue now (remove %s to start a new cluster)",
			certPath, kp.cert.NotAfter.Format(time.DateOnly), filepath.Dir(dir))
	}
	return kp, nil
}

// parseKeyPair reads a PEM certificate and its EC private key, as sign
// writes them.
func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	certBlock, _ := pem.Decode(certPEM)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, err
	}
	keyBlock, _ := pem.Decode(keyPEM)
	if keyBlock == nil {
		return nil, errors.New("no PEM private key")
	}
	key, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the private key does not match the certificate")
	}
	return &keyPair{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// writeServiceAccountKey makes the key pair that signs service-account
// tokens. It is RSA because RS256 is the one JWT algorithm every token
// consumer supports.
func writeServiceAccountKey(keyPath, pubPath string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating the service-account key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})); err != nil {
		return err
	}
	return writeFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
}

// writeFile writes with owner-only permissions: the directory holds
// private keys that grant cluster-admin.
func writeFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
