package flags

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The sources --env-from and --env-value-from read from, with kn's
// prefixes and their long forms.
var (
	configMapPrefixes = []string{"cm:", "config-map:"}
	secretPrefixes    = []string{"secret:", "sc:"}
)

// editEnvironment applies the environment flags to the container:
// --env-file first, then --env-value-from, then --env, so that a value on
// the command line wins over the file's; --env-from edits envFrom.
func (f *PodFlags) editEnvironment(container *corev1.Container) error {
	env := container.Env
	if f.changed(envFileFlag) {
		edits, err := readEnvFile(f.EnvFile)
		if err != nil {
			return err
		}
		if env, err = f.editEnv(env, envFileFlag, edits); err != nil {
			return err
		}
	}
	if f.changed(envValueFromFlag) {
		var err error
		if env, err = f.editEnvValueFrom(env, f.EnvValueFrom); err != nil {
			return err
		}
	}
	if f.changed(envFlag) {
		var err error
		if env, err = f.editEnv(env, envFlag, f.Env); err != nil {
			return err
		}
	}
	container.Env = env
	if f.changed(envFromFlag) {
		envFrom, err := editEnvFrom(container.EnvFrom, f.EnvFrom)
		if err != nil {
			return err
		}
		container.EnvFrom = envFrom
	}
	return nil
}

// editEnv sets NAME=VALUE and removes NAME- in order, keeping the order
// of the variables already there. flag names where the edits came from.
func (f *PodFlags) editEnv(env []corev1.EnvVar, flag string, edits []string) ([]corev1.EnvVar, error) {
	return f.editEnvVars(env, flag, edits, func(e string) (corev1.EnvVar, error) {
		name, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok || name == "" {
			return corev1.EnvVar{}, fmt.Errorf("--%s %q: want NAME=VALUE to set a variable or NAME- to remove it", flag, e)
		}
		return corev1.EnvVar{Name: name, Value: value}, nil
	})
}

// editEnvVars applies one flag's edits in order: NAME- removes the
// variable, and parse reads any other edit as the variable to set, in
// its place or at the end.
func (f *PodFlags) editEnvVars(env []corev1.EnvVar, flag string, edits []string, parse func(edit string) (corev1.EnvVar, error)) ([]corev1.EnvVar, error) {
	env = slices.Clone(env)
	for _, e := range edits {
		if name, ok := removal(e); ok {
			env = slices.DeleteFunc(env, func(v corev1.EnvVar) bool { return v.Name == name })
			continue
		}
		v, err := parse(e)
		if err != nil {
			return nil, err
		}
		if err := f.notReserved(flag, e, v.Name); err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(env, func(old corev1.EnvVar) bool { return old.Name == v.Name }); i >= 0 {
			env[i] = v
			continue
		}
		env = append(env, v)
	}
	return env, nil
}

// removal reports whether an edit is NAME-, which removes NAME.
func removal(edit string) (string, bool) {
	name, ok := strings.CutSuffix(edit, removeSuffix)
	return name, ok && name != "" && !strings.Contains(edit, keyValueSeparator)
}

// editEnvValueFrom sets NAME=cm:MAP:KEY and NAME=secret:SECRET:KEY as
// variables read from a ConfigMap's or a Secret's key, and removes NAME-.
func (f *PodFlags) editEnvValueFrom(env []corev1.EnvVar, edits []string) ([]corev1.EnvVar, error) {
	return f.editEnvVars(env, envValueFromFlag, edits, func(e string) (corev1.EnvVar, error) {
		name, source, _ := strings.Cut(e, keyValueSeparator)
		isSecret, object, key := false, "", ""
		if rest, ok := cutAnyPrefix(source, configMapPrefixes); ok {
			object, key, _ = strings.Cut(rest, portNameSeparator)
		} else if rest, ok := cutAnyPrefix(source, secretPrefixes); ok {
			isSecret = true
			object, key, _ = strings.Cut(rest, portNameSeparator)
		}
		if name == "" || object == "" || key == "" {
			return corev1.EnvVar{}, fmt.Errorf("--%s %q: want NAME=cm:CONFIGMAP:KEY or NAME=secret:SECRET:KEY to read a variable from a key, or NAME- to remove it (e.g. --%s DB_HOST=cm:settings:db-host)",
				envValueFromFlag, e, envValueFromFlag)
		}
		v := corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{}}
		if isSecret {
			v.ValueFrom.SecretKeyRef = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: object}, Key: key}
		} else {
			v.ValueFrom.ConfigMapKeyRef = &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: object}, Key: key}
		}
		return v, nil
	})
}

// editEnvFrom adds cm:NAME and secret:NAME as sources of every key of a
// ConfigMap or a Secret, and removes cm:NAME- and secret:NAME-. Adding
// one that is there, or removing one that is not, changes nothing, so
// that the command can be repeated.
func editEnvFrom(envFrom []corev1.EnvFromSource, edits []string) ([]corev1.EnvFromSource, error) {
	envFrom = slices.Clone(envFrom)
	for _, e := range edits {
		ref, remove := strings.CutSuffix(e, removeSuffix)
		var source corev1.EnvFromSource
		name, isConfigMap := cutAnyPrefix(ref, configMapPrefixes)
		if isConfigMap {
			source.ConfigMapRef = &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
		} else if name, ok := cutAnyPrefix(ref, secretPrefixes); ok {
			source.SecretRef = &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
		}
		if source.ConfigMapRef == nil && source.SecretRef == nil || envFromName(source) == "" {
			return nil, fmt.Errorf("--%s %q: want cm:CONFIGMAP or secret:SECRET to take every key as a variable, with a trailing - to remove it (e.g. --%s cm:settings)",
				envFromFlag, e, envFromFlag)
		}
		i := slices.IndexFunc(envFrom, func(s corev1.EnvFromSource) bool { return sameEnvFromSource(s, source) })
		switch {
		case remove && i >= 0:
			envFrom = slices.Delete(envFrom, i, i+1)
		case !remove && i < 0:
			envFrom = append(envFrom, source)
		}
	}
	return envFrom, nil
}

func cutAnyPrefix(s string, prefixes []string) (string, bool) {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest, true
		}
	}
	return s, false
}

func envFromName(s corev1.EnvFromSource) string {
	if s.ConfigMapRef != nil {
		return s.ConfigMapRef.Name
	}
	if s.SecretRef != nil {
		return s.SecretRef.Name
	}
	return ""
}

func sameEnvFromSource(a, b corev1.EnvFromSource) bool {
	return (a.ConfigMapRef != nil) == (b.ConfigMapRef != nil) && (a.SecretRef != nil) == (b.SecretRef != nil) &&
		envFromName(a) == envFromName(b)
}

// readEnvFile reads NAME=VALUE lines, as a .env file holds them: blank
// lines and lines that start with # are skipped, an "export " before the
// name is dropped, and a value in matching quotes loses them; anything
// else is taken as written, up to the end of its line.
func readEnvFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", envFileFlag, path, err)
	}
	var edits []string
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(text, "export "), keyValueSeparator)
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("--%s %s, line %d: %q is not NAME=VALUE; fix or remove the line (# starts a comment)",
				envFileFlag, path, line, text)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		edits = append(edits, name+keyValueSeparator+value)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("--%s %s: %w", envFileFlag, path, err)
	}
	return edits, nil
}
