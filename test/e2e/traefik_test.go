//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/controlplane/controlplanetest"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// traefikGateway is the Gateway of Traefik's class that the test points
// config-network's external-gateway at.
const traefikGateway = "traefik-external"

// TestRoutesThroughTraefik serves Knative Services through another
// Gateway API implementation than Flywheel's own: Traefik v3, built from
// its module (third_party/traefik) and run on the host, reading the
// Gateway API objects with a ServiceAccount's token as it would in a
// pod. With config-network's external-gateway naming a Gateway of
// Traefik's class, the Routes' HTTPRoutes attach to it and Traefik alone
// serves them: Traefik accepts the HTTPRoute (the Route's readiness reads
// its status); a 50/50 split between two Revisions holds (weights); a tag
// reaches its Revision by host and by the Knative-Serving-Tag header
// (header matches).
//
// Traefik v3.6 accepts but does not apply the request header filter on a
// backendRef, by which each backend names its Revision to the activator;
// the activator then finds the Revision from the request's host and the
// Route's HTTPRoutes (docs/install.md). The last subtest shows it: a
// Revision whose path always holds the activator (target-burst-capacity
// -1) answers, and so does one that went to zero, woken by the request
// Traefik sent the activator. The split keeps the activator out of its
// Revisions' paths (target-burst-capacity 0, min-scale 1), so that the
// 50/50 count is Traefik's choice alone.
func TestRoutesThroughTraefik(t *testing.T) {
	ctx := t.Context()
	bin := controlplanetest.BuiltOnRequest(t, "traefik")
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	gateways := gatewayclient.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	createTraefikGateway(t, gateways, port)
	startTraefik(t, bin, addr, traefikToken(t))
	waitGatewayAccepted(t, gateways)
	setNetworkGateway(t, local.SystemNamespace+"/"+traefikGateway)

	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "traefik")
	services := client.ServingV1().Services(ns)
	svc := helloService(ns, "hello", "one")
	// No activator in the path once a pod is ready, and always a pod:
	// the split is Traefik's alone (see above).
	svc.Spec.Template.Annotations = map[string]string{
		serving.TargetBurstCapacityAnnotation.String(): "0",
		serving.MinScaleAnnotation.String():            "1",
	}
	created, err := services.Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "hello", created.Generation)
	host, first := ready.Status.URL.Host, ready.Status.LatestReadyRevisionName
	// The controller may have written the HTTPRoute before it heard of
	// the new external-gateway; once it has, Traefik accepts the route.
	waitTraefikAccepts(t, gateways, ns, host)
	// Traefik writes the status before its routers serve the route.
	waitAnswer(t, addr, host, nil, http.StatusOK, func(body string) bool { return strings.Contains(body, "Hello one!") })
	if code, _, err := getFrom(ctx, cluster.GatewayAddr, host, nil); err != nil || code != http.StatusNotFound {
		t.Errorf("Flywheel's own gateway answered %d (%v) for the host, want 404: the HTTPRoute attaches to Traefik's Gateway alone", code, err)
	}

	t.Run("weights and header matches", func(t *testing.T) {
		second := splitWithCandidate(t, client, ns, first)
		// Until the new Revision's Service leaves the activator, the
		// activator would pick among the Revisions in its path.
		activator := isActivator(t)
		for _, rev := range []string{first, second} {
			waitPublicEndpoints(t, ns, rev, "its pod", func(a string) bool { return !activator(a) })
		}
		waitAnswer(t, addr, "candidate-"+host, nil, http.StatusOK, func(body string) bool { return strings.Contains(body, second) })
		checkSplitAndTag(t, addr, host, first, second)
	})

	t.Run("the activator finds the Revision by host", func(t *testing.T) {
		always := helloService(ns, "always", "always")
		always.Spec.Template.Annotations = map[string]string{serving.TargetBurstCapacityAnnotation.String(): "-1"}
		cold := helloService(ns, "cold", "cold")
		cold.Spec.Template.Annotations = map[string]string{serving.WindowAnnotation.String(): "6s"}
		var hosts, revs []string
		for _, svc := range []*servingv1.Service{always, cold} {
			created, err := services.Create(ctx, svc, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ready := waitReady(t, client, ns, svc.Name, created.Generation)
			waitTraefikAccepts(t, gateways, ns, ready.Status.URL.Host)
			hosts, revs = append(hosts, ready.Status.URL.Host), append(revs, ready.Status.LatestReadyRevisionName)
		}
		waitPublicEndpoints(t, ns, revs[0], "the activator", isActivator(t))
		waitAnswer(t, addr, hosts[0], nil, http.StatusOK, func(body string) bool { return strings.Contains(body, "Hello always!") })

		waitDeploymentReplicas(t, ns, names.Deployment(revs[1]), 0, 3*time.Minute)
		waitNoPods(t, ns, revs[1])
		waitPublicEndpoints(t, ns, revs[1], "the activator", isActivator(t))
		// One request, no retries: it is the one that wakes the Revision.
		code, body, err := getFrom(ctx, addr, hosts[1], nil)
		if err != nil || code != http.StatusOK || !strings.Contains(body, "Hello cold!") {
			t.Errorf("the request through Traefik for the Revision at zero: %d %q (%v), want 200 from its woken pod", code, body, err)
		}
	})
}

// waitAnswer waits until a request for host to the gateway on addr gets
// an answer with status code whose body satisfies ok.
func waitAnswer(t *testing.T, addr, host string, header http.Header, code int, ok func(body string) bool) {
	t.Helper()
	var lastCode int
	var lastBody string
	var lastErr error
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		lastCode, lastBody, lastErr = getFrom(rctx, addr, host, header)
		return lastErr == nil && lastCode == code && ok(lastBody), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s to answer through %s (last: %d %q, %v): %v", host, addr, lastCode, lastBody, lastErr, err)
	}
}

// traefikController is the controller name of Traefik's GatewayClass.
const traefikController = "traefik.io/gateway-controller"

// waitGatewayAccepted waits until Traefik has accepted its Gateway: it
// runs and reads the cluster.
func waitGatewayAccepted(t *testing.T, gateways gatewayclient.Interface) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		gw, err := gateways.GatewayV1().Gateways(local.SystemNamespace).Get(ctx, traefikGateway, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted))
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gw.Generation, nil
	})
	if err != nil {
		t.Fatalf("waiting for Traefik to accept Gateway %s: %v", traefikGateway, err)
	}
}

// waitTraefikAccepts waits until the HTTPRoute of host in ns attaches to
// Traefik's Gateway and Traefik says it accepts it and resolves its
// backends, at its current generation.
func waitTraefikAccepts(t *testing.T, gateways gatewayclient.Interface, ns, host string) {
	t.Helper()
	var last []gatewayv1.RouteParentStatus
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		hr, err := gateways.GatewayV1().HTTPRoutes(ns).Get(ctx, host, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = hr.Status.Parents
		if len(hr.Spec.ParentRefs) == 0 || string(hr.Spec.ParentRefs[0].Name) != traefikGateway {
			return false, nil
		}
		for _, ps := range hr.Status.Parents {
			if ps.ControllerName != traefikController || string(ps.ParentRef.Name) != traefikGateway {
				continue
			}
			ok := true
			for _, ct := range []gatewayv1.RouteConditionType{gatewayv1.RouteConditionAccepted, gatewayv1.RouteConditionResolvedRefs} {
				c := meta.FindStatusCondition(ps.Conditions, string(ct))
				ok = ok && c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == hr.Generation
			}
			return ok, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for Traefik to accept HTTPRoute %s (its parents' status: %+v): %v", host, last, err)
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// createTraefikGateway creates Traefik's GatewayClass and a Gateway of it
// whose one HTTP listener is on port: Traefik serves a listener on the
// entry point of the same port.
func createTraefikGateway(t *testing.T, gateways gatewayclient.Interface, port int) {
	t.Helper()
	ctx := t.Context()
	class := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "traefik"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: traefikController},
	}
	if _, err := gateways.GatewayV1().GatewayClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gateways.GatewayV1().GatewayClasses().Delete(context.Background(), class.Name, metav1.DeleteOptions{})
	})
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: traefikGateway, Namespace: local.SystemNamespace},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(class.Name),
			Listeners: []gatewayv1.Listener{{
				Name:          "web",
				Port:          gatewayv1.PortNumber(port),
				Protocol:      gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr.To(gatewayv1.NamespacesFromAll)}},
			}},
		},
	}
	if _, err := gateways.GatewayV1().Gateways(gw.Namespace).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gateways.GatewayV1().Gateways(gw.Namespace).Delete(context.Background(), gw.Name, metav1.DeleteOptions{})
	})
}

// traefikToken returns a token of a ServiceAccount that may do what
// Traefik's Gateway API provider does: read the Gateway API objects,
// Services, EndpointSlices, Secrets and Namespaces, and write the Gateway
// API objects' status.
func traefikToken(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	const name = "traefik"
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: local.SystemNamespace}}
	if _, err := cluster.Kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrs.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	read := []string{"get", "list", "watch"}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "flywheel-e2e-traefik"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces", "services", "secrets", "configmaps"}, Verbs: read},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
			{APIGroups: []string{gatewayv1.GroupName}, Resources: []string{"*"}, Verbs: read},
			{APIGroups: []string{gatewayv1.GroupName}, Resources: []string{
				"gatewayclasses/status", "gateways/status", "httproutes/status", "grpcroutes/status",
				"tcproutes/status", "tlsroutes/status", "backendtlspolicies/status",
			}, Verbs: []string{"update", "patch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: sa.Namespace}},
	}
	rbac := cluster.Kube.RbacV1()
	if _, err := rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = rbac.ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
		_ = rbac.ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{})
		_ = cluster.Kube.CoreV1().ServiceAccounts(sa.Namespace).Delete(ctx, sa.Name, metav1.DeleteOptions{})
	})
	tr, err := cluster.Kube.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// startTraefik runs Traefik on the host with one entry point on addr
// and its Gateway API provider reading the cluster with token, logging
// under workDir, and stops it when the test ends. It never reaches out:
// the version check and usage reporting are off.
func startTraefik(t *testing.T, bin, addr, token string) {
	t.Helper()
	logPath := filepath.Join(workDir, "traefik.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		"--log.level=INFO",
		"--accesslog=true",
		"--entryPoints.web.address="+addr,
		"--providers.kubernetesgateway=true",
		"--providers.kubernetesgateway.endpoint="+cluster.ControlPlane.APIServerURL,
		"--providers.kubernetesgateway.token="+token,
		"--providers.kubernetesgateway.certAuthFilePath="+cluster.ControlPlane.CACertPath,
		"--providers.kubernetesgateway.statusAddress.ip=127.0.0.1",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited closes once Traefik has exited, waitErr then says how.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("Traefik's log:\n%s", tail(string(b), 40))
			}
		}
	})
	select {
	case <-exited:
		t.Fatalf("Traefik exited at once (%v); its log is %s", waitErr, logPath)
	case <-time.After(500 * time.Millisecond):
	}
}

// setNetworkGateway points config-network's external-gateway at gw
// (namespace/name) for the test, and puts the shipped data back after it.
func setNetworkGateway(t *testing.T, gw string) {
	t.Helper()
	cms := cluster.Kube.CoreV1().ConfigMaps(local.SystemNamespace)
	cm, err := cms.Get(t.Context(), "config-network", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shipped := cm.Data
	data := map[string]string{}
	for k, v := range shipped {
		data[k] = v
	}
	data["external-gateway"] = gw
	cm.Data = data
	if _, err := cms.Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cm, err := cms.Get(context.Background(), "config-network", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm.Data = shipped
			_, err = cms.Update(context.Background(), cm, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Errorf("putting config-network back: %v", err)
		}
	})
}
