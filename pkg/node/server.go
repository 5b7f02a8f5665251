package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// kubeletServer serves the part of the kubelet API the node implements
// (container logs, the pod lists, the resource metrics and the stats
// summary) on the node's IP, so that `kubectl logs` works through the API
// server and metrics-server can scrape the node, as on any cluster.
//
// The API server does not verify kubelet serving certificates unless told
// to (--kubelet-certificate-authority), so the node serves a self-signed
// one. Clients present a certificate from the cluster CA (the API
// server's kubelet client certificate is one) or a bearer token the
// cluster authorizes (kubeletAuth).
type kubeletServer struct {
	srv *http.Server
	l   net.Listener
}

func startKubeletServer(n *Node, pods corev1listers.PodLister) (*kubeletServer, error) {
	caPEM, err := os.ReadFile(n.s.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the client CA: %w", err)
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in the client CA file %s", n.s.ClientCAFile)
	}
	cert, err := selfSignedCert(n.s.NodeName, net.IP(n.s.nodeIP.AsSlice()), n.s.Clock.Now())
	if err != nil {
		return nil, err
	}
	usage := &usageReporter{nodeName: n.s.NodeName, now: n.s.Clock.Now, pods: n.provider.usage, machine: machineUsage}
	handler := api.PodHandler(api.PodHandlerConfig{
		GetContainerLogs: func(ctx context.Context, namespace, pod, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
			return n.Logs(ctx, namespace, pod, container, LogOptions{
				Tail: opts.Tail, LimitBytes: opts.LimitBytes, Follow: opts.Follow, Previous: opts.Previous,
			})
		},
		GetPods: n.provider.GetPods,
		GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) {
			return pods.List(labels.Everything())
		},
		GetStatsSummary:    usage.statsSummary,
		GetMetricsResource: usage.metricsResource,
	}, false)
	addr := net.JoinHostPort(n.s.nodeIP.String(), strconv.Itoa(n.s.KubeletPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for the kubelet API on %s: %w", addr, err)
	}
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{cert},
		// A certificate, when given, must be the cluster CA's; without
		// one, kubeletAuth asks for a token.
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  clientCAs,
		MinVersion: tls.VersionTLS12,
	}
	s := &kubeletServer{
		srv: &http.Server{
			Handler:           &kubeletAuth{kube: n.kube, nodeName: n.s.NodeName, log: n.s.Logger, next: handler},
			ReadHeaderTimeout: 10 * time.Second,
			// Handshake errors (a client that only checks the port) are
			// noise at the default logger's level.
			ErrorLog: slog.NewLogLogger(n.s.Logger.Handler(), slog.LevelDebug),
		},
		l: tls.NewListener(l, tlsConfig),
	}
	go func() {
		if err := s.srv.Serve(s.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.s.Logger.Error("serving the kubelet API", "error", err)
		}
	}()
	return s, nil
}

func (s *kubeletServer) close() {
	_ = s.srv.Close()
}

// selfSignedCert is the kubelet API's serving certificate, as a kubelet
// makes one when given none.
func selfSignedCert(name string, ip net.IP, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name + "@" + strconv.FormatInt(now.Unix(), 10)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{ip},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
