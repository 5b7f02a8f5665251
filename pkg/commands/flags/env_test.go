package flags

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func configMapKey(name, key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
}

func secretKey(name, key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
}

func fromConfigMap(name string) corev1.EnvFromSource {
	return corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
}

func fromSecret(name string) corev1.EnvFromSource {
	return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
}

func writeEnvFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnvironmentFlags(t *testing.T) {
	envFile := writeEnvFile(t, `
# settings for the app
A=from-file
export C = spaced
D="quoted value"
E='single # not a comment'
`)
	for _, tc := range []struct {
		name        string
		in          []corev1.EnvVar
		inFrom      []corev1.EnvFromSource
		args        []string
		want        []corev1.EnvVar
		wantEnvFrom []corev1.EnvFromSource
	}{{
		name: "a file sets and adds, --env wins over it",
		in:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
		args: []string{"--env-file", envFile, "--env", "D=from-flag"},
		want: []corev1.EnvVar{{Name: "A", Value: "from-file"}, {Name: "B", Value: "2"}, {Name: "C", Value: "spaced"},
			{Name: "D", Value: "from-flag"}, {Name: "E", Value: "single # not a comment"}},
	}, {
		name: "values from keys, then one removed",
		in:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
		args: []string{"--env-value-from", "A=cm:settings:a", "--env-value-from", "TOKEN=secret:creds:token", "--env-value-from", "B-"},
		want: []corev1.EnvVar{{Name: "A", ValueFrom: configMapKey("settings", "a")}, {Name: "TOKEN", ValueFrom: secretKey("creds", "token")}},
	}, {
		name: "the long prefixes",
		args: []string{"--env-value-from", "X=config-map:m:k", "--env-value-from", "Y=sc:s:k"},
		want: []corev1.EnvVar{{Name: "X", ValueFrom: configMapKey("m", "k")}, {Name: "Y", ValueFrom: secretKey("s", "k")}},
	}, {
		name:        "whole ConfigMaps and Secrets, added once",
		args:        []string{"--env-from", "cm:settings", "--env-from", "secret:creds", "--env-from", "config-map:settings"},
		wantEnvFrom: []corev1.EnvFromSource{fromConfigMap("settings"), fromSecret("creds")},
	}, {
		name:        "removing one keeps the other",
		inFrom:      []corev1.EnvFromSource{fromConfigMap("settings"), fromSecret("creds")},
		args:        []string{"--env-from", "cm:settings-"},
		wantEnvFrom: []corev1.EnvFromSource{fromSecret("creds")},
	}, {
		name:        "removing one that is not there changes nothing",
		inFrom:      []corev1.EnvFromSource{fromConfigMap("settings")},
		args:        []string{"--env-from", "secret:settings-"},
		wantEnvFrom: []corev1.EnvFromSource{fromConfigMap("settings")},
	}, {
		name:        "a ConfigMap and a Secret of one name are two sources",
		inFrom:      []corev1.EnvFromSource{fromConfigMap("app")},
		args:        []string{"--env-from", "secret:app"},
		wantEnvFrom: []corev1.EnvFromSource{fromConfigMap("app"), fromSecret("app")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			svc := service(withEnv(tc.in...))
			svc.Spec.Template.Spec.Containers[0].EnvFrom = tc.inFrom
			if err := apply(t, svc, tc.args...); err != nil {
				t.Fatalf("Apply(%v) = %v", tc.args, err)
			}
			c := svc.Spec.Template.Spec.Containers[0]
			if diff := cmp.Diff(tc.want, c.Env); diff != "" {
				t.Errorf("env (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantEnvFrom, c.EnvFrom); diff != "" {
				t.Errorf("envFrom (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestEnvironmentFlagsRefuseBadInput(t *testing.T) {
	badFile := writeEnvFile(t, "A=1\nnot a variable\n")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"value-from without a key", []string{"--env-value-from", "A=cm:settings"}, []string{"--env-value-from", `"A=cm:settings"`, "NAME=cm:CONFIGMAP:KEY"}},
		{"value-from of an unknown kind", []string{"--env-value-from", "A=vault:x:y"}, []string{"--env-value-from", "NAME=secret:SECRET:KEY"}},
		{"value-from of a reserved name", []string{"--env-value-from", "PORT=cm:m:k"}, []string{"--env-value-from", "PORT is set by the platform"}},
		{"env-from of an unknown kind", []string{"--env-from", "settings"}, []string{"--env-from", `"settings"`, "cm:CONFIGMAP or secret:SECRET"}},
		{"env-from without a name", []string{"--env-from", "cm:"}, []string{"--env-from", `"cm:"`}},
		{"a missing env file", []string{"--env-file", "/nonexistent/app.env"}, []string{"--env-file /nonexistent/app.env", "no such file"}},
		{"a bad line in the env file", []string{"--env-file", badFile}, []string{"--env-file", "line 2", `"not a variable" is not NAME=VALUE`}},
		{"a reserved name in the env file", []string{"--env-file", writeEnvFile(t, "K_SERVICE=x\n")}, []string{"--env-file", "K_SERVICE is set by the platform"}},
	} {
		t.Run(tc.name, func(t *testing.T) { refuses(t, service(), tc.args, tc.want) })
	}
}
