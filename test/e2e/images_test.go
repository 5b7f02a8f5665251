//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/imagetest"
)

// imageInfo is what the imageinfo test app answers.
type imageInfo struct {
	UID     int               `json:"uid"`
	GID     int               `json:"gid"`
	Dir     string            `json:"dir"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Exists  map[string]bool   `json:"exists"`
	Written bool              `json:"written"`
}

// TestRegistryImages runs two images the test builds and pushes to a
// registry of its own on loopback as Knative Services: a static Go binary
// on an empty base, and an image of three layers (a whiteout, an opaque
// directory) with a non-root USER, Entrypoint, Cmd, Env and WorkingDir.
// Each answers through the gateway, as its image says it should run.
func TestRegistryImages(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "images")
	host := imagetest.Registry(t, "", "")

	static := staticImage(t)
	if err := imagetest.Push(host+"/static:v1", static); err != nil {
		t.Fatal(err)
	}
	digest, err := static.Digest()
	if err != nil {
		t.Fatal(err)
	}
	svc := imageService(ns, "static", host+"/static:v1")
	created, err := client.ServingV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "static", created.Generation)
	info := getImageInfo(t, ready.Status.URL.Host, url.Values{})
	if info.UID != 0 || !slices.Equal(info.Args, []string{"/imageinfo"}) || !info.Written {
		t.Errorf("the static image runs as %+v, want root running /imageinfo with a writable root", info)
	}
	// The controller cannot reach a registry on the node's loopback: the
	// digest comes from the node's imageID.
	want := host + "/static:v1@" + digest.String()
	var recorded []servingv1.ContainerStatus
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rev, err := client.ServingV1().Revisions(ns).Get(ctx, ready.Status.LatestReadyRevisionName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		recorded = rev.Status.ContainerStatuses
		return len(recorded) > 0 && recorded[0].ImageDigest == want, nil
	})
	if err != nil {
		t.Errorf("the Revision records %+v, want the image digest %s", recorded, want)
	}

	if err := imagetest.Push(host+"/layered:v1", layeredImage(t)); err != nil {
		t.Fatal(err)
	}
	svc = imageService(ns, "layered", host+"/layered:v1")
	svc.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GREETING", Value: "container"}}
	created, err = client.ServingV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready = waitReady(t, client, ns, "layered", created.Generation)
	query := url.Values{
		"path": {"/srv/secret.txt", "/srv/kept.txt", "/srv/added.txt", "/cache/old", "/cache/new"},
		"env":  {"GREETING", "FROM_IMAGE"},
	}
	got := getImageInfo(t, ready.Status.URL.Host, query)
	wantInfo := imageInfo{
		UID: 1000, GID: 1000, Dir: "/srv", Args: []string{"imageinfo", "from-cmd"},
		Env:    map[string]string{"GREETING": "container", "FROM_IMAGE": "image"},
		Exists: map[string]bool{"/srv/secret.txt": false, "/srv/kept.txt": true, "/srv/added.txt": true, "/cache/old": false, "/cache/new": true},
		// / belongs to root: the image's user cannot write there.
		Written: false,
	}
	if diff := cmp.Diff(wantInfo, got); diff != "" {
		t.Errorf("the layered image runs as (-want, +got):\n%s", diff)
	}
}

// TestPrivateRegistryImage: a registry that wants credentials refuses a
// Service without its pull secret, which shows ImagePullBackOff with the
// registry's refusal; with the secret (fw service create --pull-secret)
// the same image runs.
func TestPrivateRegistryImage(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "private")
	host := imagetest.Registry(t, "alice", "s3cret")
	ref := host + "/private/static:v1"
	if err := imagetest.Push(ref, staticImage(t), remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}

	if _, err := client.ServingV1().Services(ns).Create(t.Context(), imageService(ns, "nosecret", ref), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var msg string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/service=nosecret"})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && w.Reason == "ImagePullBackOff" {
					msg = w.Message
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no container of the Service without its pull secret shows ImagePullBackOff: %v", err)
	}
	if !strings.Contains(msg, "UNAUTHORIZED") || !strings.Contains(msg, ref) {
		t.Errorf("the back-off message %q does not carry the registry's UNAUTHORIZED for %s", msg, ref)
	}

	auth := fmt.Sprintf(`{"auths":{%q:{"username":"alice","password":"s3cret"}}}`, host)
	_, err = cluster.Kube.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(auth)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// As a user would: kn's --pull-secret, on fw.
	// The image runs as root, which kn's default --security-context
	// strict refuses.
	fw(t, "service", "create", "withsecret", "-n", ns, "--image", ref, "--pull-secret", "regcred", "--security-context", "none")
	if info := getImageInfo(t, "withsecret."+ns+".localhost", url.Values{}); !slices.Equal(info.Args, []string{"/imageinfo"}) {
		t.Errorf("the private image answered %+v", info)
	}
}

// TestPrivateImageResolvedToADigest: a private registry the controller
// reaches (on the node's address, as a registry outside the machine would
// be; the controller leaves loopback registries to the node) resolves a
// Revision's tag only with the credentials its pods pull with. Without
// them the Revision fails with the registry's refusal and no pod is made;
// with its ServiceAccount's pull secret the tag is pinned to its digest
// from the start, and the pods pull and run that digest.
func TestPrivateImageResolvedToADigest(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "privdigest")
	nodeIP, err := node.IPOf(node.DefaultPodCIDR)
	if err != nil {
		t.Fatal(err)
	}
	host := imagetest.RegistryAt(t, net.JoinHostPort(nodeIP.String(), "0"), "bob", "s3cret")
	ref := host + "/private/static:v1"
	img := staticImage(t)
	if err := imagetest.Push(ref, img, remote.WithAuth(&authn.Basic{Username: "bob", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	if _, err := client.ServingV1().Services(ns).Create(t.Context(), imageService(ns, "nosecret", ref), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var missing string
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		rev, err := client.ServingV1().Revisions(ns).Get(ctx, "nosecret-00001", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		c := rev.Status.GetCondition(servingv1.RevisionConditionContainerHealthy)
		if c != nil && c.Reason == servingv1.ReasonContainerMissing {
			missing = c.Message
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the Revision without credentials never failed with %s: %v", servingv1.ReasonContainerMissing, err)
	}
	if !strings.Contains(missing, "UNAUTHORIZED") || !strings.Contains(missing, ref) {
		t.Errorf("the Revision's message %q does not carry the registry's UNAUTHORIZED for %s", missing, ref)
	}
	if pods, err := cluster.Kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "serving.knative.dev/service=nosecret"}); err != nil || len(pods.Items) > 0 {
		t.Errorf("the unresolved Revision has pods (%v): its Deployment should not exist", err)
	}

	auth := fmt.Sprintf(`{"auths":{%q:{"username":"bob","password":"s3cret"}}}`, host)
	if _, err := cluster.Kube.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(auth)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Kube.CoreV1().ServiceAccounts(ns).Create(t.Context(), &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "puller"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := imageService(ns, "viaaccount", ref)
	svc.Spec.Template.Spec.ServiceAccountName = "puller"
	if _, err := client.ServingV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client, ns, "viaaccount", 1)
	if info := getImageInfo(t, "viaaccount."+ns+".localhost", url.Values{}); !slices.Equal(info.Args, []string{"/imageinfo"}) {
		t.Errorf("the private image answered %+v", info)
	}
	rev, err := client.ServingV1().Revisions(ns).Get(t.Context(), "viaaccount-00001", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pinned := host + "/private/static@" + digest.String()
	if len(rev.Status.ContainerStatuses) != 1 || rev.Status.ContainerStatuses[0].ImageDigest != pinned {
		t.Errorf("the Revision's container statuses are %+v, want the digest %s", rev.Status.ContainerStatuses, pinned)
	}
	pods, err := cluster.Kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "serving.knative.dev/service=viaaccount"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			if c.Name == "user-container" && c.Image != pinned {
				t.Errorf("pod %s runs %s, want the pinned %s", p.Name, c.Image, pinned)
			}
		}
	}
}

// TestServiceCreateWithRegistryImage: `fw service create --image
// localhost:PORT/...` runs a registry image, as `kn service create` does.
func TestServiceCreateWithRegistryImage(t *testing.T) {
	ns := newNamespace(t, "fwimage")
	addr := imagetest.Registry(t, "", "")
	_, port, _ := strings.Cut(addr, ":")
	ref := "localhost:" + port + "/static:v1"
	if err := imagetest.Push(ref, staticImage(t)); err != nil {
		t.Fatal(err)
	}
	// The image runs as root, which kn's default --security-context
	// strict refuses.
	out := fw(t, "service", "create", "fromregistry", "-n", ns, "--image", ref, "--security-context", "none")
	host := "fromregistry." + ns + ".localhost"
	if !strings.Contains(out, "http://"+host) {
		t.Errorf("fw service create printed %q, want the Service's URL", out)
	}
	if info := getImageInfo(t, host, url.Values{}); !slices.Equal(info.Args, []string{"/imageinfo"}) {
		t.Errorf("the Service answered %+v", info)
	}
}

// TestUpdateLocksTheImageToItsDigest is kn's --lock-to-digest end to
// end: a Service runs a registry image by tag, then the tag moves to
// another image. A change of settings (fw service update --env) goes on
// running the image the Service ran, by its digest, and describe still
// shows the tag; --no-lock-to-digest goes back to the tag, and so to the
// image it names now.
func TestUpdateLocksTheImageToItsDigest(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "lockdigest")
	addr := imagetest.Registry(t, "", "")
	_, port, _ := strings.Cut(addr, ":")
	// The controller cannot reach a registry on the node's loopback, so
	// the node resolves its tags, as a kubelet does: afresh for each new
	// pod for :latest, from what it pulled before for another tag.
	ref := "localhost:" + port + "/app:latest"
	if err := imagetest.Push(ref, staticImage(t)); err != nil {
		t.Fatal(err)
	}
	// The image runs as root, which kn's default --security-context
	// strict refuses.
	fw(t, "service", "create", "app", "-n", ns, "--image", ref, "--security-context", "none")
	host := "app." + ns + ".localhost"
	// The node reports the digest it pulled once a pod runs the image.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rev, err := client.ServingV1().Revisions(ns).Get(ctx, "app-00001", metav1.GetOptions{})
		return err == nil && len(rev.Status.ContainerStatuses) > 0 && rev.Status.ContainerStatuses[0].ImageDigest != "", nil
	})
	if err != nil {
		t.Fatalf("Revision app-00001 recorded no digest: %v", err)
	}
	if err := imagetest.Push(ref, layeredImage(t)); err != nil {
		t.Fatal(err)
	}

	out := fw(t, "service", "update", "app", "-n", ns, "--env", "GREETING=kept")
	if strings.Contains(out, "Not locking") {
		t.Errorf("fw service update did not lock the image: %s", out)
	}
	info := getImageInfo(t, host, url.Values{"env": {"GREETING"}})
	if !slices.Equal(info.Args, []string{"/imageinfo"}) || info.Env["GREETING"] != "kept" {
		t.Errorf("after a change of settings the Service runs %+v, want the image it ran (/imageinfo) with GREETING=kept", info)
	}
	// The Image line, not the annotation that also holds the tag.
	if out := fw(t, "revision", "describe", "app-00002", "-n", ns); !regexp.MustCompile(`(?m)^Image:\s+` + regexp.QuoteMeta(ref) + `$`).MatchString(out) {
		t.Errorf("fw revision describe does not show the tag %s the digest was locked from:\n%s", ref, out)
	}

	fw(t, "service", "update", "app", "-n", ns, "--no-lock-to-digest")
	info = getImageInfo(t, host, url.Values{})
	if !slices.Equal(info.Args, []string{"imageinfo", "from-cmd"}) {
		t.Errorf("after --no-lock-to-digest the Service runs %+v, want the image the tag names now", info)
	}
}

// imageService is a Service running image.
func imageService(ns, name, image string) *servingv1.Service {
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}},
		}}},
	}
}

// getImageInfo asks the imageinfo app behind host through the gateway.
func getImageInfo(t *testing.T, host string, query url.Values) imageInfo {
	t.Helper()
	code, body, err := request(t.Context(), cluster.GatewayAddr, host, "/?"+query.Encode(), nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", host, code, body, err)
	}
	var info imageInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("GET %s answered %q: %v", host, body, err)
	}
	return info
}

// imageInfoBinary is the imageinfo app, built static once.
var imageInfoBinary = sync.OnceValues(func() ([]byte, error) {
	return imagetest.BuildStatic("flywheel.dev/test/e2e/testdata/imageinfo")
})

// staticImage is the imageinfo app, built static, alone on an empty base.
func staticImage(t *testing.T) v1.Image {
	t.Helper()
	bin, err := imageInfoBinary()
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagetest.StaticImage("imageinfo", bin)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layeredImage is the imageinfo app in three layers: the first has users,
// the program and files, the second whites one of them out, the third
// makes a directory opaque. It runs as the user "app" by name.
func layeredImage(t *testing.T) v1.Image {
	t.Helper()
	bin, err := imageInfoBinary()
	if err != nil {
		t.Fatal(err)
	}
	exe := imagetest.File("usr/local/bin/imageinfo", string(bin))
	exe.Mode = 0o755
	srv := imagetest.Dir("srv")
	srv.UID, srv.GID = 1000, 1000
	layers := [][]imagetest.Entry{
		{
			imagetest.Dir("etc"),
			imagetest.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"),
			imagetest.File("etc/group", "root:x:0:\napp:x:1000:\n"),
			exe, srv,
			imagetest.File("srv/secret.txt", "to be whited out"),
			imagetest.File("srv/kept.txt", "kept"),
			imagetest.Dir("cache"), imagetest.File("cache/old", "old"),
		},
		{imagetest.Whiteout("srv/secret.txt"), imagetest.File("srv/added.txt", "added")},
		{imagetest.Opaque("cache"), imagetest.File("cache/new", "new")},
	}
	var ls []v1.Layer
	for _, entries := range layers {
		l, err := imagetest.Layer(imagetest.Tar(entries...))
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	img, err := imagetest.Image(v1.Config{
		Entrypoint: []string{"imageinfo"}, Cmd: []string{"from-cmd"},
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=image", "FROM_IMAGE=image"},
		WorkingDir: "/srv", User: "app",
	}, runtime.GOARCH, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
