package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// pollInterval is how often readiness is checked: short, because each
// component is ready within seconds and every poll saved is start time.
const pollInterval = 100 * time.Millisecond

// waitReady polls url until it answers 200, the process exits, or ctx
// ends. client nil means plain http. An exit of any process started so far
// fails the wait: the API server cannot become ready once etcd is gone,
// and etcd's log is the one that says why.
func (c *ControlPlane) waitReady(ctx context.Context, p *process, url string, client *http.Client) error {
	if client == nil {
		client = &http.Client{}
	}
	defer client.CloseIdleConnections()
	var last error
	var exited *process
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		for _, q := range c.procs {
			if q.exited() {
				exited = q
				return false, errors.New("exited")
			}
		}
		last = probe(ctx, client, url)
		return last == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case exited != nil:
		return exited.exitError()
	default:
		return fmt.Errorf("%s (pid %d) not ready at %s (last check: %w): %w; last lines of %s:\n%s",
			p.name, p.pid(), url, last, err, p.logPath, p.logTail())
	}
}

// probe GETs url once and wants 200.
func probe(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

// caClient is an https client that trusts only the cluster CA.
func caClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("controlplane: the generated CA certificate does not parse")
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}
