package flags

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"flywheel.dev/pkg/apis/config"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// revisionSpec is a revision template with one serving container, and
// the volumes and mounts opts give it.
func revisionSpec(opts ...func(*servingv1.RevisionSpec)) *servingv1.RevisionSpec {
	s := &servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "user-container", Image: "ko://example.com/hello",
	}}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func specVolumes(volumes ...corev1.Volume) func(*servingv1.RevisionSpec) {
	return func(s *servingv1.RevisionSpec) { s.Volumes = volumes }
}

func specMounts(mounts ...corev1.VolumeMount) func(*servingv1.RevisionSpec) {
	return func(s *servingv1.RevisionSpec) { s.Containers[0].VolumeMounts = mounts }
}

// specSidecarMounts adds a second container, one the flags do not edit.
func specSidecarMounts(mounts ...corev1.VolumeMount) func(*servingv1.RevisionSpec) {
	return func(s *servingv1.RevisionSpec) {
		s.Containers = append(s.Containers, corev1.Container{Name: "sidecar", Image: "ko://example.com/sidecar", VolumeMounts: mounts})
	}
}

func cmVolume(name, configMap string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}},
	}}
}

func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
}

func pvcVolume(name, claim string, readOnly bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly},
	}}
}

// edVolume is an emptyDir; size "" sets no limit.
func edVolume(name string, medium corev1.StorageMedium, size string) corev1.Volume {
	dir := &corev1.EmptyDirVolumeSource{Medium: medium}
	if size != "" {
		q := resource.MustParse(size)
		dir.SizeLimit = &q
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: dir}}
}

func mountAt(path, volume, subPath string, readOnly bool) corev1.VolumeMount {
	return corev1.VolumeMount{Name: volume, MountPath: path, SubPath: subPath, ReadOnly: readOnly}
}

// editSpec runs editVolumes on a copy of in, as the template code does.
func editSpec(in *servingv1.RevisionSpec, volumes, mounts []string) (*servingv1.RevisionSpec, error) {
	got := in.DeepCopy()
	return got, editVolumes(&got.PodSpec, &got.Containers[0], volumes, mounts)
}

const (
	longConfigMap       = "app-config-for-the-checkout-service-in-the-staging-environment-v2"
	longConfigMapVolume = "cm-app-config-for-the-checkout-service-in-the-staging-a9c21ae6"
)

func TestEditVolumes(t *testing.T) {
	for _, tc := range []struct {
		name            string
		in              *servingv1.RevisionSpec
		volumes, mounts []string
		want            *servingv1.RevisionSpec
	}{{
		name: "no flags change nothing",
		in:   revisionSpec(specVolumes(cmVolume("config", "settings")), specMounts(mountAt("/etc/config", "config", "", true))),
		want: revisionSpec(specVolumes(cmVolume("config", "settings")), specMounts(mountAt("/etc/config", "config", "", true))),
	}, {
		name:    "ConfigMap volumes, by either prefix",
		in:      revisionSpec(),
		volumes: []string{"config=cm:settings", "more=config-map:extra"},
		want:    revisionSpec(specVolumes(cmVolume("config", "settings"), cmVolume("more", "extra"))),
	}, {
		name:    "Secret volumes, by either prefix",
		in:      revisionSpec(),
		volumes: []string{"tls=secret:tls-cert", "token=sc:api-token"},
		want:    revisionSpec(specVolumes(secretVolume("tls", "tls-cert"), secretVolume("token", "api-token"))),
	}, {
		name:    "claim volumes, by either prefix, read-only on request",
		in:      revisionSpec(),
		volumes: []string{"data=pvc:data-claim", "archive=persistentVolumeClaim:old:readOnly=true", "logs=pvc:logs:readOnly=false"},
		want: revisionSpec(specVolumes(
			pvcVolume("data", "data-claim", false), pvcVolume("archive", "old", true), pvcVolume("logs", "logs", false))),
	}, {
		name: "emptyDir volumes in both of kn's forms, with a size and a medium",
		in:   revisionSpec(),
		volumes: []string{
			"a=ed:", "b=emptyDir:size=1Gi", "c=ed::type=Memory",
			"ed:d", "emptyDir:e:size=512Mi,type=Memory", "ED:f:TYPE=memory",
		},
		want: revisionSpec(specVolumes(
			edVolume("a", "", ""), edVolume("b", "", "1Gi"), edVolume("c", corev1.StorageMediumMemory, ""),
			edVolume("d", "", ""), edVolume("e", corev1.StorageMediumMemory, "512Mi"), edVolume("f", corev1.StorageMediumMemory, ""))),
	}, {
		name:    "setting a volume that is there replaces its source in its place, and its mounts follow",
		in:      revisionSpec(specVolumes(cmVolume("a", "old"), cmVolume("b", "b")), specMounts(mountAt("/a", "a", "", true))),
		volumes: []string{"a=secret:new"},
		want:    revisionSpec(specVolumes(secretVolume("a", "new"), cmVolume("b", "b")), specMounts(mountAt("/a", "a", "", true))),
	}, {
		name:    "the last of two settings of a volume wins",
		in:      revisionSpec(),
		volumes: []string{"scratch=ed:size=1Gi", "ed:scratch:type=Memory"},
		want:    revisionSpec(specVolumes(edVolume("scratch", corev1.StorageMediumMemory, ""))),
	}, {
		name:    "removing an unmounted volume",
		in:      revisionSpec(specVolumes(cmVolume("a", "a"), cmVolume("b", "b"))),
		volumes: []string{"a-"},
		want:    revisionSpec(specVolumes(cmVolume("b", "b"))),
	}, {
		name:    "removing a volume that is not there is no error",
		in:      revisionSpec(specVolumes(cmVolume("a", "a"))),
		volumes: []string{"nope-"},
		want:    revisionSpec(specVolumes(cmVolume("a", "a"))),
	}, {
		name:    "removing a volume and its mount in one command",
		in:      revisionSpec(specVolumes(cmVolume("config", "settings")), specMounts(mountAt("/etc/config", "config", "", true))),
		volumes: []string{"config-"},
		mounts:  []string{"/etc/config-"},
		want:    revisionSpec(specVolumes(), specMounts()),
	}, {
		name:    "a volume removed and set again keeps its mounts",
		in:      revisionSpec(specVolumes(cmVolume("config", "settings")), specMounts(mountAt("/etc/config", "config", "", true))),
		volumes: []string{"config-", "config=cm:other"},
		want:    revisionSpec(specVolumes(cmVolume("config", "other")), specMounts(mountAt("/etc/config", "config", "", true))),
	}, {
		name:   "a ConfigMap mount makes its volume and is read-only",
		in:     revisionSpec(),
		mounts: []string{"/etc/config=cm:settings"},
		want:   revisionSpec(specVolumes(cmVolume("cm-settings", "settings")), specMounts(mountAt("/etc/config", "cm-settings", "", true))),
	}, {
		name:   "a ConfigMap mount of a sub-path, by the long prefix",
		in:     revisionSpec(),
		mounts: []string{"/etc/app.yaml=config-map:settings/app.yaml"},
		want: revisionSpec(specVolumes(cmVolume("cm-settings", "settings")),
			specMounts(mountAt("/etc/app.yaml", "cm-settings", "app.yaml", true))),
	}, {
		name:   "Secret mounts by either prefix, with a sub-path and readOnly",
		in:     revisionSpec(),
		mounts: []string{"/tls=secret:tls-cert/certs/:readOnly=true", "/token=sc:api-token:readOnly=false"},
		want: revisionSpec(specVolumes(secretVolume("secret-tls-cert", "tls-cert"), secretVolume("secret-api-token", "api-token")),
			specMounts(mountAt("/tls", "secret-tls-cert", "certs", true), mountAt("/token", "secret-api-token", "", false))),
	}, {
		name:   "claim mounts are writable unless asked",
		in:     revisionSpec(),
		mounts: []string{"/data=pvc:data", "/archive=persistentVolumeClaim:old/2024:readOnly=true"},
		want: revisionSpec(specVolumes(pvcVolume("pvc-data", "data", false), pvcVolume("pvc-old", "old", false)),
			specMounts(mountAt("/data", "pvc-data", "", false), mountAt("/archive", "pvc-old", "2024", true))),
	}, {
		name:   "a mount of a read-only claim is read-only",
		in:     revisionSpec(specVolumes(pvcVolume("archive", "old", true))),
		mounts: []string{"/archive=pvc:old", "/also=archive"},
		want: revisionSpec(specVolumes(pvcVolume("archive", "old", true)),
			specMounts(mountAt("/archive", "archive", "", true), mountAt("/also", "archive", "", true))),
	}, {
		name:   "an emptyDir mount makes the volume when it is missing and uses it when it is there",
		in:     revisionSpec(specVolumes(edVolume("cache", corev1.StorageMediumMemory, "64Mi"))),
		mounts: []string{"/scratch=ed:scratch", "/cache=emptyDir:cache/http", "/tmp=ed:scratch:readOnly=false"},
		want: revisionSpec(specVolumes(edVolume("cache", corev1.StorageMediumMemory, "64Mi"), edVolume("scratch", "", "")),
			specMounts(mountAt("/scratch", "scratch", "", false), mountAt("/cache", "cache", "http", false), mountAt("/tmp", "scratch", "", false))),
	}, {
		name:   "a mount of a volume by name takes the read-only default of its kind",
		in:     revisionSpec(specVolumes(cmVolume("config", "settings"), edVolume("scratch", "", ""))),
		mounts: []string{"/etc/config=config/conf.d", "/scratch=scratch", "/cfg-rw=config:readOnly=false"},
		want: revisionSpec(specVolumes(cmVolume("config", "settings"), edVolume("scratch", "", "")),
			specMounts(mountAt("/etc/config", "config", "conf.d", true), mountAt("/scratch", "scratch", "", false), mountAt("/cfg-rw", "config", "", false))),
	}, {
		name:    "a mount of a volume set by the same command",
		in:      revisionSpec(),
		volumes: []string{"config=cm:settings"},
		mounts:  []string{"/etc/config=config"},
		want:    revisionSpec(specVolumes(cmVolume("config", "settings")), specMounts(mountAt("/etc/config", "config", "", true))),
	}, {
		name:   "a second mount of the same ConfigMap reuses the generated volume",
		in:     revisionSpec(),
		mounts: []string{"/a=cm:settings", "/b=cm:settings/b.yaml"},
		want: revisionSpec(specVolumes(cmVolume("cm-settings", "settings")),
			specMounts(mountAt("/a", "cm-settings", "", true), mountAt("/b", "cm-settings", "b.yaml", true))),
	}, {
		name:   "a volume the user named for the same object is reused",
		in:     revisionSpec(specVolumes(cmVolume("mine", "settings"), pvcVolume("store", "data", false))),
		mounts: []string{"/etc/config=cm:settings", "/data=pvc:data"},
		want: revisionSpec(specVolumes(cmVolume("mine", "settings"), pvcVolume("store", "data", false)),
			specMounts(mountAt("/etc/config", "mine", "", true), mountAt("/data", "store", "", false))),
	}, {
		name: "a volume of some of the ConfigMap's keys is not reused",
		in: revisionSpec(specVolumes(corev1.Volume{Name: "some", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Items: []corev1.KeyToPath{{Key: "a", Path: "a"}},
		}}})),
		mounts: []string{"/etc/config=cm:settings"},
		want: revisionSpec(specVolumes(corev1.Volume{Name: "some", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Items: []corev1.KeyToPath{{Key: "a", Path: "a"}},
		}}}, cmVolume("cm-settings", "settings")), specMounts(mountAt("/etc/config", "cm-settings", "", true))),
	}, {
		name:   "objects with long or dotted names get hashed volume names",
		in:     revisionSpec(),
		mounts: []string{"/etc/config=cm:" + longConfigMap, "/tls=secret:tls.example.com"},
		want: revisionSpec(specVolumes(cmVolume(longConfigMapVolume, longConfigMap), secretVolume("secret-tls-example-com-58941d1c", "tls.example.com")),
			specMounts(mountAt("/etc/config", longConfigMapVolume, "", true), mountAt("/tls", "secret-tls-example-com-58941d1c", "", true))),
	}, {
		name:   "mounting at a mounted path replaces the mount in its place and drops the generated volume it left",
		in:     revisionSpec(specVolumes(cmVolume("cm-old", "old")), specMounts(mountAt("/etc/config/", "cm-old", "", true), mountAt("/x", "cm-old", "", true))),
		mounts: []string{"/x=ed:x", "/etc/config=cm:new"},
		want: revisionSpec(specVolumes(edVolume("x", "", ""), cmVolume("cm-new", "new")),
			specMounts(mountAt("/etc/config", "cm-new", "", true), mountAt("/x", "x", "", false))),
	}, {
		name:   "removing a mount removes its generated volume",
		in:     revisionSpec(specVolumes(cmVolume("cm-settings", "settings"), pvcVolume("pvc-data", "data", false)), specMounts(mountAt("/etc/config", "cm-settings", "", true), mountAt("/data", "pvc-data", "", false))),
		mounts: []string{"/etc/config/-", "/data-"},
		want:   revisionSpec(specVolumes(), specMounts()),
	}, {
		name: "removing a mount keeps a volume the user named",
		in: revisionSpec(specVolumes(cmVolume("config", "settings"), edVolume("scratch", "", "")),
			specMounts(mountAt("/etc/config", "config", "", true), mountAt("/scratch", "scratch", "", false))),
		mounts: []string{"/etc/config-", "/scratch-"},
		want:   revisionSpec(specVolumes(cmVolume("config", "settings"), edVolume("scratch", "", "")), specMounts()),
	}, {
		name: "removing a mount keeps a generated volume another mount uses",
		in: revisionSpec(specVolumes(cmVolume("cm-settings", "settings"), secretVolume("secret-tls", "tls")),
			specMounts(mountAt("/a", "cm-settings", "", true), mountAt("/b", "cm-settings", "", true), mountAt("/tls", "secret-tls", "", true)),
			specSidecarMounts(mountAt("/tls", "secret-tls", "", true))),
		mounts: []string{"/a-", "/tls-"},
		want: revisionSpec(specVolumes(cmVolume("cm-settings", "settings"), secretVolume("secret-tls", "tls")),
			specMounts(mountAt("/b", "cm-settings", "", true)), specSidecarMounts(mountAt("/tls", "secret-tls", "", true))),
	}, {
		name:   "removing a mount that is not there is no error",
		in:     revisionSpec(),
		mounts: []string{"/nope-"},
		want:   revisionSpec(),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := editSpec(tc.in, tc.volumes, tc.mounts)
			if err != nil {
				t.Fatalf("editVolumes(%q, %q) = %v", tc.volumes, tc.mounts, err)
			}
			// Removing the last volume or mount may leave an empty list
			// where there was none: the same on the wire.
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("editVolumes(%q, %q) (-want, +got):\n%s", tc.volumes, tc.mounts, diff)
			}
		})
	}
}

func TestGeneratedVolumeName(t *testing.T) {
	// The names are pinned: a volume an older fw made is known by its name
	// when its last mount goes, so the rule must not change.
	for _, tc := range []struct {
		kind   volumeKind
		object string
		want   string
	}{
		{kindConfigMap, "settings", "cm-settings"},
		{kindSecret, "tls", "secret-tls"},
		{kindClaim, "data", "pvc-data"},
		{kindSecret, "a-b", "secret-a-b"},
		{kindSecret, "a.b", "secret-a-b-fbf7323f"},
		{kindSecret, "tls.example.com", "secret-tls-example-com-58941d1c"},
		{kindConfigMap, longConfigMap, longConfigMapVolume},
		{kindConfigMap, strings.TrimSuffix(longConfigMap, "2") + "3", "cm-app-config-for-the-checkout-service-in-the-staging-de7a17bd"},
		{kindClaim, strings.Repeat("x", 253), "pvc-" + strings.Repeat("x", 50) + "-e88d9804"},
	} {
		got := generatedVolumeName(tc.kind, tc.object)
		if got != tc.want {
			t.Errorf("generatedVolumeName(%d, %q) = %q, want %q", tc.kind, tc.object, got, tc.want)
		}
		if msgs := validation.IsDNS1123Label(got); len(msgs) > 0 {
			t.Errorf("generatedVolumeName(%d, %q) = %q, not a volume name: %v", tc.kind, tc.object, got, msgs)
		}
	}
}

// TestEditedTemplatesPassAdmission holds what the flags make to the
// webhook's rules, with the features as they are by default, so that a
// command like `fw service create x --image I --mount /etc/cfg=cm:settings`
// is accepted as it is.
func TestEditedTemplatesPassAdmission(t *testing.T) {
	claimsAllowed := config.FromContextOrDefaults(context.Background())
	claimsAllowed.Features.PodSpecPersistentVolumeClaim = config.Enabled
	for _, tc := range []struct {
		name            string
		ctx             context.Context
		in              *servingv1.RevisionSpec
		volumes, mounts []string
	}{
		{"a ConfigMap", context.Background(), revisionSpec(), nil, []string{"/etc/cfg=cm:settings"}},
		{"a Secret's sub-path", context.Background(), revisionSpec(), nil, []string{"/etc/tls/cert.pem=secret:tls/cert.pem"}},
		{"emptyDirs", context.Background(), revisionSpec(), []string{"ed:scratch:size=1Gi,type=Memory"}, []string{"/scratch=scratch", "/cache=ed:cache"}},
		{"named volumes", context.Background(), revisionSpec(), []string{"cfg=cm:settings", "tls=sc:tls"}, []string{"/cfg=cfg", "/tls=tls:readOnly=true"}},
		{
			"a claim, where claims are turned on", config.ToContext(context.Background(), claimsAllowed), revisionSpec(),
			[]string{"archive=pvc:old:readOnly=true"}, []string{"/data=pvc:data", "/archive=archive"},
		},
		{
			"a mount moved to another source", context.Background(),
			revisionSpec(specVolumes(cmVolume("cm-old", "old")), specMounts(mountAt("/etc/cfg/", "cm-old", "", true))),
			nil, []string{"/etc/cfg=secret:new"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := editSpec(tc.in, tc.volumes, tc.mounts)
			if err != nil {
				t.Fatalf("editVolumes(%q, %q) = %v", tc.volumes, tc.mounts, err)
			}
			if err := got.Validate(tc.ctx); err != nil {
				t.Errorf("the webhook refuses what editVolumes(%q, %q) made: %v", tc.volumes, tc.mounts, err)
			}
		})
	}
}

// TestEditVolumesRefusesBadInput checks that each error names the flag,
// the value and the fix.
func TestEditVolumesRefusesBadInput(t *testing.T) {
	withConfig := revisionSpec(specVolumes(cmVolume("config", "settings")), specMounts(mountAt("/etc/config", "config", "", true)))
	for _, tc := range []struct {
		name            string
		in              *servingv1.RevisionSpec
		volumes, mounts []string
		want            []string // each must appear in the error
	}{
		{"volume without =", revisionSpec(), []string{"config"}, nil, []string{`--volume "config"`, "no =", "want NAME=cm:CONFIGMAP", "NAME-", "e.g. --volume config=cm:settings"}},
		{"volume without a kind", revisionSpec(), []string{"config=settings"}, nil, []string{`--volume "config=settings"`, "no kind", "want NAME=cm:"}},
		{"volume of an unknown kind", revisionSpec(), []string{"config=configmap:settings"}, nil, []string{`--volume "config=configmap:settings"`, `"configmap" is not a kind`, "NAME=secret:SECRET"}},
		{"volume without a name", revisionSpec(), []string{"=cm:settings"}, nil, []string{`--volume "=cm:settings"`, "volume name is empty"}},
		{"volume with a bad name", revisionSpec(), []string{"My_Config=cm:settings"}, nil, []string{`--volume "My_Config=cm:settings"`, `"My_Config" is not a volume name`, "lowercase"}},
		{"removal without a name", revisionSpec(), []string{"-"}, nil, []string{`--volume "-"`, "volume name is empty"}},
		{"volume without an object", revisionSpec(), []string{"config=cm:"}, nil, []string{`--volume "config=cm:"`, "ConfigMap name is empty"}},
		{"volume of a bad object name", revisionSpec(), []string{"tls=secret:TLS"}, nil, []string{`--volume "tls=secret:TLS"`, `"TLS" is not a Secret name`}},
		{"ConfigMap volume with an option", revisionSpec(), []string{"config=cm:settings:readOnly=true"}, nil, []string{`--volume "config=cm:settings:readOnly=true"`, "takes no options", "want config=cm:settings alone", "--mount /PATH=config:readOnly=true"}},
		{"claim with a bad readOnly", revisionSpec(), []string{"data=pvc:data:readOnly=yes"}, nil, []string{`--volume "data=pvc:data:readOnly=yes"`, `readOnly "yes"`, "want readOnly=true or readOnly=false"}},
		{"claim with an unknown option", revisionSpec(), []string{"data=pvc:data:size=1Gi"}, nil, []string{`--volume "data=pvc:data:size=1Gi"`, `"size" is not an option of a claim`}},
		{"emptyDir without a name", revisionSpec(), []string{"ed:"}, nil, []string{`--volume "ed:"`, "volume name is empty"}},
		{"emptyDir with a bad size", revisionSpec(), []string{"ed:scratch:size=lots"}, nil, []string{`--volume "ed:scratch:size=lots"`, `size "lots"`, "size=1Gi"}},
		{"emptyDir with no size", revisionSpec(), []string{"scratch=ed:size=0"}, nil, []string{`--volume "scratch=ed:size=0"`, "above zero"}},
		{"emptyDir of an unknown medium", revisionSpec(), []string{"ed:scratch:type=Disk"}, nil, []string{`--volume "ed:scratch:type=Disk"`, `type "Disk"`, "want type=Memory", "no type"}},
		{"emptyDir with an unknown option", revisionSpec(), []string{"ed:scratch:mode=0700"}, nil, []string{`--volume "ed:scratch:mode=0700"`, `"mode" is not an option`, "size=QUANTITY and type=Memory"}},
		{"emptyDir with an object name", revisionSpec(), []string{"scratch=ed:scratch"}, nil, []string{`--volume "scratch=ed:scratch"`, `no object to name, and "scratch" is no option`, "want scratch=ed: or ed:scratch"}},
		{"emptyDir with an option that is not KEY=VALUE", revisionSpec(), []string{"ed:scratch:size=1Gi,memory"}, nil, []string{`--volume "ed:scratch:size=1Gi,memory"`, `the option "memory" is not KEY=VALUE`}},
		{
			"removing a volume still mounted", withConfig, []string{"config-"}, nil,
			[]string{`--volume "config-"`, "the mount at /etc/config still uses volume config", "--mount /etc/config-"},
		},
		{
			"removing a volume a sidecar mounts", revisionSpec(specVolumes(cmVolume("config", "settings")), specSidecarMounts(mountAt("/cfg", "config", "", true))),
			[]string{"config-"}, nil, []string{`--volume "config-"`, `container "sidecar" mounts volume config at /cfg`, "keep the volume"},
		},
		{"mount without =", revisionSpec(), nil, []string{"/etc/config"}, []string{`--mount "/etc/config"`, "no =", "want /PATH=cm:CONFIGMAP", "/PATH-", "e.g. --mount /etc/config=cm:settings"}},
		{"mount at a relative path", revisionSpec(), nil, []string{"etc/config=cm:settings"}, []string{`--mount "etc/config=cm:settings"`, `"etc/config" is not absolute`}},
		{"mount at no path", revisionSpec(), nil, []string{"=cm:settings"}, []string{`--mount "=cm:settings"`, `"" is not absolute`}},
		{"removal of a relative path", revisionSpec(), nil, []string{"data-"}, []string{`--mount "data-"`, `"data" is not absolute`}},
		{"mount at the root", revisionSpec(), nil, []string{"/=ed:root"}, []string{`--mount "/=ed:root"`, "at / would hide"}},
		{"mount of an unknown kind", revisionSpec(), nil, []string{"/etc/config=configmap:settings"}, []string{`--mount "/etc/config=configmap:settings"`, `"configmap" is not a kind`}},
		{"mount without an object", revisionSpec(), nil, []string{"/tls=sc:"}, []string{`--mount "/tls=sc:"`, "Secret name is empty"}},
		{"mount of a bad claim name", revisionSpec(), nil, []string{"/data=pvc:Data_1"}, []string{`--mount "/data=pvc:Data_1"`, `"Data_1" is not a PersistentVolumeClaim name`}},
		{"mount of an emptyDir with a bad name", revisionSpec(), nil, []string{"/tmp=ed:tmp.dir"}, []string{`--mount "/tmp=ed:tmp.dir"`, `"tmp.dir" is not a volume name`}},
		{"mount without a volume", revisionSpec(), nil, []string{"/data="}, []string{`--mount "/data="`, "volume name is empty"}},
		{
			"mount of a missing volume", revisionSpec(specVolumes(cmVolume("other", "other"))), []string{"other-"}, []string{"/data=other"},
			[]string{`--mount "/data=other"`, `no volume "other"`, "--volume other=cm:CONFIGMAP", "--mount /data=cm:other"},
		},
		{"mount of a sub-path with ..", revisionSpec(), nil, []string{"/etc/config=cm:settings/../x"}, []string{`--mount "/etc/config=cm:settings/../x"`, "leaves the volume"}},
		{"mount of an absolute sub-path", revisionSpec(), nil, []string{"/etc/config=cm:settings//x"}, []string{`--mount "/etc/config=cm:settings//x"`, "leaves the volume"}},
		{"mount with a bad readOnly", revisionSpec(), nil, []string{"/etc/config=cm:settings:readOnly=1"}, []string{`--mount "/etc/config=cm:settings:readOnly=1"`, `readOnly "1"`, "want readOnly=true or readOnly=false"}},
		{"mount with an unknown option", revisionSpec(), nil, []string{"/etc/config=cm:settings:mode=0400"}, []string{`--mount "/etc/config=cm:settings:mode=0400"`, `"mode" is not an option of a mount`}},
		{"mount with an option that is not KEY=VALUE", revisionSpec(), nil, []string{"/data=pvc:data:ro"}, []string{`--mount "/data=pvc:data:ro"`, `"ro" is not KEY=VALUE`}},
		{
			"emptyDir mount of a volume of another kind", withConfig, nil, []string{"/tmp=ed:config"},
			[]string{`--mount "/tmp=ed:config"`, "volume config is there and is not an emptyDir", "--mount /tmp=config"},
		},
		{
			"generated name taken by another source", revisionSpec(specVolumes(edVolume("cm-settings", "", ""))), nil, []string{"/etc/config=cm:settings"},
			[]string{`--mount "/etc/config=cm:settings"`, "cm-settings", "taken by another source", "--volume cm-settings-"},
		},
		{
			"writable mount of a read-only claim", revisionSpec(specVolumes(pvcVolume("archive", "old", true))), nil, []string{"/archive=archive:readOnly=false"},
			[]string{`--mount "/archive=archive:readOnly=false"`, "read-only", "--volume archive=pvc:old:readOnly=false"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := editSpec(tc.in, tc.volumes, tc.mounts)
			if err == nil {
				t.Fatalf("editVolumes(%q, %q) = nil, want an error", tc.volumes, tc.mounts)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("editVolumes(%q, %q) = %q, want it to say %q", tc.volumes, tc.mounts, err, w)
				}
			}
		})
	}
}

// TestCheckVolumeFlags checks that malformed values fail without a
// template, and that values needing one wait for it.
func TestCheckVolumeFlags(t *testing.T) {
	for _, tc := range []struct {
		name            string
		volumes, mounts []string
		want            string // "" for no error
	}{
		{"well-formed values", []string{"config=cm:settings", "ed:scratch:size=1Gi", "old-"}, []string{"/etc/config=config", "/data=pvc:data", "/x-"}, ""},
		{"a mount of a volume the Service may have", nil, []string{"/etc/config=config"}, ""},
		{"a malformed volume", []string{"config=cm:"}, nil, `--volume "config=cm:"`},
		{"a malformed mount", nil, []string{"etc=cm:settings"}, `--mount "etc=cm:settings"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkVolumeFlags(tc.volumes, tc.mounts)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkVolumeFlags(%q, %q) = %v, want nil", tc.volumes, tc.mounts, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkVolumeFlags(%q, %q) = %v, want an error saying %q", tc.volumes, tc.mounts, err, tc.want)
			}
		})
	}
}
