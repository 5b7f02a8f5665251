package node

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// tokenClient is a fake clientset whose TokenRequests return numbered
// tokens valid for the requested time from clk's now.
func tokenClient(clk *clocktesting.FakeClock, requests *atomic.Int32, objects ...runtime.Object) *fake.Clientset {
	kube := fake.NewClientset(objects...)
	kube.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		n := requests.Add(1)
		tr.Status.Token = fmt.Sprintf("token-%d", n)
		tr.Status.ExpirationTimestamp = metav1.NewTime(clk.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
	return kube
}

func filesContent(files map[string]projectedFile) map[string]string {
	out := map[string]string{}
	for p, f := range files {
		out[p] = string(f.data) + " " + f.mode.String()
	}
	return out
}

func TestProject(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var requests atomic.Int32
	kube := tokenClient(clk, &requests,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"bin": {0, 1}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Data: map[string][]byte{"password": []byte("pw")}},
	)
	pr := newProjector(kube, clk, nil)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1", Labels: map[string]string{"b": "2", "a": "1"}},
		Spec:       corev1.PodSpec{ServiceAccountName: "sa", Containers: []corev1.Container{{Name: "c"}}},
	}
	addrs := podAddresses{podIP: "10.244.0.2", hostIP: "10.244.0.1"}
	cmRef := corev1.LocalObjectReference{Name: "cm"}
	for _, tc := range []struct {
		name    string
		vol     corev1.VolumeSource
		want    map[string]string
		wantErr string
	}{{
		name: "a ConfigMap's keys, binary data included, with the default mode",
		vol:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef}},
		want: map[string]string{"a": "1 -rw-r--r--", "b": "2 -rw-r--r--", "bin": "\x00\x01 -rw-r--r--"},
	}, {
		name: "items with paths and modes, defaultMode for the rest",
		vol: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, DefaultMode: ptr.To[int32](0o440), Items: []corev1.KeyToPath{
			{Key: "a", Path: "dir/a", Mode: ptr.To[int32](0o600)}, {Key: "b", Path: "b"},
		}}},
		want: map[string]string{"dir/a": "1 -rw-------", "b": "2 -r--r-----"},
	}, {
		name:    "a missing key fails, naming the fix",
		vol:     corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{{Key: "zz", Path: "zz"}}}},
		wantErr: `key "zz" is not in ConfigMap cm; add it or mark the source optional`,
	}, {
		name: "a missing optional ConfigMap is an empty volume",
		vol:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}},
		want: map[string]string{},
	}, {
		name:    "a missing ConfigMap fails",
		vol:     corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}},
		wantErr: "reading ConfigMap absent",
	}, {
		name: "a Secret",
		vol:  corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr.To[int32](0o400)}},
		want: map[string]string{"password": "pw -r--------"},
	}, {
		name: "downward API fields, labels as sorted key=\"value\" lines",
		vol: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}},
		}}},
		want: map[string]string{"labels": "a=\"1\"\nb=\"2\" -rw-r--r--", "ip": "10.244.0.2 -rw-r--r--"},
	}, {
		name: "the service-account volume admission adds: token, CA and namespace",
		vol: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o644), Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{{Key: "a", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}},
		want: map[string]string{"token": "token-1 -rw-r--r--", "ca.crt": "1 -rw-r--r--", "namespace": "ns -rw-r--r--"},
	}, {
		name: "a path leaving the volume is refused",
		vol: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{
			{Key: "a", Path: "../a"},
		}}},
		wantErr: `path "../a" must be relative`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			v := &corev1.Volume{Name: "v", VolumeSource: tc.vol}
			files, err := pr.project(t.Context(), pod, v, addrs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("project() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, filesContent(files)); diff != "" {
				t.Errorf("files (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestTokenRefresh(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	var requests atomic.Int32
	pr := newProjector(tokenClient(clk, &requests), clk, nil)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"}}
	v := &corev1.Volume{Name: "sa", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "api", ExpirationSeconds: ptr.To[int64](3600)}},
	}}}}
	token := func() string {
		t.Helper()
		files, err := pr.project(t.Context(), pod, v, podAddresses{})
		if err != nil {
			t.Fatal(err)
		}
		return string(files["token"].data)
	}
	if got := token(); got != "token-1" {
		t.Fatalf("first token %q", got)
	}
	// Reused until 80 % of its hour has passed: 48 minutes.
	clk.SetTime(start.Add(47 * time.Minute))
	if got := token(); got != "token-1" || requests.Load() != 1 {
		t.Errorf("at 47 min: token %q after %d requests, want token-1 after 1", got, requests.Load())
	}
	clk.SetTime(start.Add(48 * time.Minute))
	if got := token(); got != "token-2" {
		t.Errorf("at 48 min: token %q, want a new one", got)
	}

	var req *authenticationv1.TokenRequest
	for _, a := range pr.kube.(*fake.Clientset).Actions() {
		if ca, ok := a.(k8stesting.CreateAction); ok && a.GetSubresource() == "token" {
			req = ca.GetObject().(*authenticationv1.TokenRequest)
		}
	}
	want := authenticationv1.TokenRequestSpec{
		Audiences: []string{"api"}, ExpirationSeconds: ptr.To[int64](3600),
		BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "p", UID: "uid-1"},
	}
	if diff := cmp.Diff(want, req.Spec); diff != "" {
		t.Errorf("TokenRequest for the default ServiceAccount (-want, +got):\n%s", diff)
	}
}

func TestTokenDue(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		age      time.Duration
		want     bool
	}{
		{"fresh", time.Hour, 0, false},
		{"just before 80 % of its life", time.Hour, 47*time.Minute + 59*time.Second, false},
		{"at 80 % of its life", time.Hour, 48 * time.Minute, true},
		{"a long-lived token a day old", 7 * 24 * time.Hour, 24 * time.Hour, true},
		{"a long-lived token younger than a day", 7 * 24 * time.Hour, 23 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := cachedToken{issued: issued, expires: issued.Add(tc.lifetime)}
			if got := tok.due(issued.Add(tc.age)); got != tc.want {
				t.Errorf("due() = %v, want %v", got, tc.want)
			}
		})
	}
}

// readVolume reads a volume's files through its links, as a container
// would, with their modes.
func readVolume(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		if e.Type()&fs.ModeSymlink == 0 {
			t.Errorf("%s is not a link through %s", e.Name(), dataLink)
		}
	}
	data := filepath.Join(dir, dataLink)
	_ = filepath.WalkDir(data+"/", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		// Through the top-level link, as a container opens it.
		through := filepath.Join(dir, rel)
		b, _ := os.ReadFile(through)
		info, _ := os.Stat(through)
		out[rel] = string(b) + " " + info.Mode().String()
		return nil
	})
	return out
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	first := map[string]projectedFile{
		"a":        {data: []byte("1"), mode: 0o644},
		"nested/b": {data: []byte("2"), mode: 0o600},
	}
	changed, err := writeAtomic(dir, first)
	if err != nil || !changed {
		t.Fatalf("writeAtomic() = %v, %v; want a change", changed, err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1 -rw-r--r--", "nested/b": "2 -rw-------"}, readVolume(t, dir)); diff != "" {
		t.Errorf("files (-want, +got):\n%s", diff)
	}
	if target, err := os.Readlink(filepath.Join(dir, "a")); err != nil || target != "..data/a" {
		t.Errorf("a links to %q (%v), want ..data/a", target, err)
	}
	data1, _ := os.Readlink(filepath.Join(dir, dataLink))

	if changed, err := writeAtomic(dir, first); err != nil || changed {
		t.Errorf("writing the same files again: %v, %v; want no change", changed, err)
	}
	if data, _ := os.Readlink(filepath.Join(dir, dataLink)); data != data1 {
		t.Errorf("the data directory changed from %s to %s without a change", data1, data)
	}

	second := map[string]projectedFile{"a": {data: []byte("10"), mode: 0o644}, "c": {data: []byte("3"), mode: 0o644}}
	if changed, err := writeAtomic(dir, second); err != nil || !changed {
		t.Fatalf("writeAtomic() = %v, %v; want a change", changed, err)
	}
	if diff := cmp.Diff(map[string]string{"a": "10 -rw-r--r--", "c": "3 -rw-r--r--"}, readVolume(t, dir)); diff != "" {
		t.Errorf("files after the update (-want, +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, data1)); !os.IsNotExist(err) {
		t.Errorf("the old data directory %s is still there (%v)", data1, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nested")); !os.IsNotExist(err) {
		t.Errorf("the link of a removed file is still there (%v)", err)
	}
}

// TestPodFilesystemRefresh checks that a running pod's ConfigMap volume
// follows the ConfigMap, at the sync period of the node's clock, that a
// volume of a missing ConfigMap waits for it, and that tearing down
// removes the pod's directory.
func TestPodFilesystemRefresh(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var requests atomic.Int32
	kube := tokenClient(clk, &requests, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: map[string]string{"a": "1"}})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
			{Name: "late", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "late"}}}},
		}},
	}
	dir := filepath.Join(t.TempDir(), "pod")
	var recorded []string
	pfs := &podFilesystem{
		dir: dir, nodeIP: netip.MustParseAddr("10.244.0.1"),
		projector: newProjector(kube, clk, nil), clock: clk, syncPeriod: 10 * time.Second,
		logger: slog.New(slog.DiscardHandler), pod: pod,
		record: func(dir, mount string) error { recorded = append(recorded, dir+"|"+mount); return nil },
	}
	sb := &sandbox{ip: netip.MustParseAddr("10.244.0.2")}
	if err := pfs.setUp(t.Context(), sb); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{dir + "|"}, recorded); diff != "" {
		t.Errorf("recorded before making (-want, +got):\n%s", diff)
	}
	fsys := pfs.podFS()
	if got := readVolume(t, fsys.volumes["cm"].path); got["a"] != "1 -rw-r--r--" {
		t.Errorf("the ConfigMap volume holds %v", got)
	}
	if v := fsys.volumes["scratch"]; !v.writable {
		t.Errorf("the emptyDir is not writable: %+v", v)
	}
	if diff := cmp.Diff([]string{"claim"}, pfs.unsupported); diff != "" {
		t.Errorf("unsupported volumes (-want, +got):\n%s", diff)
	}
	if st, err := os.Stat(fsys.tmpDir); err != nil || st.Mode() != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("the pod's /tmp: %v (%v), want mode 1777", st.Mode(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(fsys.etcDir, "hosts")); !strings.Contains(string(b), "10.244.0.2\tp\n") {
		t.Errorf("hosts:\n%s", b)
	}

	cm, _ := kube.CoreV1().ConfigMaps("ns").Get(context.Background(), "cm", metav1.GetOptions{})
	cm.Data["a"] = "2"
	if _, err := kube.CoreV1().ConfigMaps("ns").Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for readVolume(t, fsys.volumes["cm"].path)["a"] != "2 -rw-r--r--" {
		if time.Now().After(deadline) {
			t.Fatal("the ConfigMap's change did not reach the volume")
		}
		clk.Step(10 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}

	// A volume whose ConfigMap is missing holds the containers back
	// (volumesReady) without failing the pod, until it appears.
	if err := fsys.volumesReady(t.Context()); err == nil || !strings.Contains(err.Error(), `volume "late"`) || !strings.Contains(err.Error(), "ConfigMap late") {
		t.Errorf("volumesReady() = %v, want the missing ConfigMap named", err)
	}
	if _, err := kube.CoreV1().ConfigMaps("ns").Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "late"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.volumesReady(t.Context()); err != nil {
		t.Errorf("volumesReady() once the ConfigMap exists = %v", err)
	}
	if got := readVolume(t, filepath.Join(dir, "volumes", "late")); got["k"] != "v -rw-r--r--" {
		t.Errorf("the late volume holds %v", got)
	}

	if err := pfs.tearDown(sb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the pod's directory is still there (%v)", err)
	}
}
