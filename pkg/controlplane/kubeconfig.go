package controlplane

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// clusterName names the cluster and context in the kubeconfigs Start
// writes.
const clusterName = "flywheel"

// writeKubeconfig writes a kubeconfig with the CA, the server URL and the
// client certificate embedded, so the file works on its own after being
// copied elsewhere (fw local up copies it for the user).
func writeKubeconfig(path, server, user string, ca []byte, client *keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: client.certPEM, ClientKeyData: client.keyPEM}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = clusterName
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// restConfig is the client configuration for server with a client
// certificate.
func restConfig(server string, ca []byte, client *keyPair) *rest.Config {
	return &rest.Config{
		Host: server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   ca,
			CertData: client.certPEM,
			KeyData:  client.keyPEM,
		},
		// client-go's defaults (5 QPS, burst 10) are sized for sharing a
		// production API server; this one belongs to the caller, and tests
		// that create many objects would spend their time throttled.
		QPS:   100,
		Burst: 200,
	}
}
