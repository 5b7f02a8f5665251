package flags

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The flags keep kn's syntax, so that a kn user's --volume and --mount
// work unchanged with fw.
const (
	volumeFlag = "volume"
	mountFlag  = "mount"

	// kindSeparator ends a source kind (cm:settings) and comes before the
	// options (pvc:data:readOnly=true).
	kindSeparator   = ":"
	optionSeparator = ","
	// subPathSeparator ends the name in NAME/SUB/PATH: object and volume
	// names cannot contain it.
	subPathSeparator = "/"
	readOnlyOption   = "readOnly"
	sizeOption       = "size"
	typeOption       = "type"

	// volumeNameHashLength is how many hex digits of a hash end a
	// generated volume name that had to be shortened or cleaned: 32 bits,
	// plenty for the handful of volumes of one pod.
	volumeNameHashLength = 8
)

// What each error asks for instead.
const (
	volumeForms = "NAME=cm:CONFIGMAP, NAME=secret:SECRET, NAME=pvc:CLAIM[:readOnly=true], " +
		"NAME=ed:[size=QUANTITY,type=Memory] or ed:NAME[:size=QUANTITY,type=Memory] to set a volume, " +
		"or NAME- to remove one, e.g. --volume config=cm:settings"
	emptyDirOptions = "size=QUANTITY and type=Memory, comma separated, e.g. --volume ed:scratch:size=1Gi,type=Memory"
	claimOptions    = "readOnly=true or readOnly=false, e.g. --volume data=pvc:my-claim:readOnly=true"
	mountForms      = "/PATH=cm:CONFIGMAP, /PATH=secret:SECRET, /PATH=pvc:CLAIM, /PATH=ed:VOLUME or /PATH=VOLUME, " +
		"each optionally followed by /SUB/PATH and :readOnly=true|false, or /PATH- to remove a mount, " +
		"e.g. --mount /etc/config=cm:settings"
	mountOptions = "readOnly=true or readOnly=false, e.g. --mount /data=pvc:my-claim:readOnly=true"

	volumeNameRule = "a volume name is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
	objectNameRule = "an object name is at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
)

// volumeKind is a kind of volume source the flags make.
type volumeKind int

const (
	// namedVolume is no kind: --mount /PATH=VOLUME names a volume the
	// template has.
	namedVolume volumeKind = iota
	kindConfigMap
	kindSecret
	kindClaim
	kindEmptyDir
)

// kindPrefixes are kn's spellings of the kinds, matched regardless of
// case.
var kindPrefixes = map[string]volumeKind{
	"cm": kindConfigMap, "config-map": kindConfigMap,
	"secret": kindSecret, "sc": kindSecret,
	"pvc": kindClaim, "persistentvolumeclaim": kindClaim,
	"ed": kindEmptyDir, "emptydir": kindEmptyDir,
}

// generatedNamePrefixes begin the names of the volumes a --mount makes
// for an object.
var generatedNamePrefixes = map[volumeKind]string{
	kindConfigMap: "cm",
	kindSecret:    "secret",
	kindClaim:     "pvc",
}

var objectKindNames = map[volumeKind]string{
	kindConfigMap: "ConfigMap",
	kindSecret:    "Secret",
	kindClaim:     "PersistentVolumeClaim",
}

// editVolumes applies the --volume edits, then the --mount edits, in the
// order given, to the pod spec and its container. Volumes go first so that a mount can use a volume set by the
// same command, wherever the flags stand on the command line.
func editVolumes(pod *corev1.PodSpec, container *corev1.Container, volumes, mounts []string) error {
	var removed []volumeEdit
	for _, value := range volumes {
		edit, err := parseVolume(value)
		if err != nil {
			return err
		}
		if edit.remove {
			pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == edit.name })
			removed = append(removed, edit)
			continue
		}
		setVolume(pod, corev1.Volume{Name: edit.name, VolumeSource: edit.source})
	}
	for _, value := range mounts {
		edit, err := parseMount(value)
		if err != nil {
			return err
		}
		if err := applyMount(pod, container, edit); err != nil {
			return err
		}
	}
	// Only now, so that --volume v- --mount /p- in one command removes a
	// volume and its mount together.
	return checkRemovedVolumesUnmounted(pod, container, removed)
}

// checkVolumeFlags refuses malformed --volume and --mount values without
// a template to apply them to, for a command to fail on them before it
// fetches the Service. What depends on the template (a mount of a volume
// by name) waits for editVolumes.
func checkVolumeFlags(volumes, mounts []string) error {
	for _, value := range volumes {
		if _, err := parseVolume(value); err != nil {
			return err
		}
	}
	for _, value := range mounts {
		if _, err := parseMount(value); err != nil {
			return err
		}
	}
	return nil
}

// volumeEdit is one --volume value: set a volume's source, or remove it.
type volumeEdit struct {
	value  string
	name   string
	remove bool
	source corev1.VolumeSource
}

func parseVolume(value string) (volumeEdit, error) {
	edit := volumeEdit{value: value}
	if prefix, rest, ok := strings.Cut(value, kindSeparator); ok && kindPrefixes[strings.ToLower(prefix)] == kindEmptyDir {
		// kn's own emptyDir form, ed:NAME[:OPTIONS], has the kind first.
		name, options, _ := strings.Cut(rest, kindSeparator)
		if err := checkVolumeName(volumeFlag, value, name, volumeForms); err != nil {
			return edit, err
		}
		edit.name = name
		var err error
		edit.source, err = emptyDirSource(value, options)
		return edit, err
	}
	if name, ok := strings.CutSuffix(value, removeSuffix); ok && !strings.Contains(value, keyValueSeparator) {
		// A volume name cannot end in '-', so NAME- is never a name.
		edit.name, edit.remove = name, true
		return edit, checkVolumeName(volumeFlag, value, name, volumeForms)
	}

	name, source, ok := strings.Cut(value, keyValueSeparator)
	if !ok {
		return edit, badValue(volumeFlag, value, "no = between the volume's name and its source", volumeForms)
	}
	if err := checkVolumeName(volumeFlag, value, name, volumeForms); err != nil {
		return edit, err
	}
	edit.name = name
	prefix, rest, ok := strings.Cut(source, kindSeparator)
	kind, known := kindPrefixes[strings.ToLower(prefix)]
	switch {
	case !ok:
		return edit, badValue(volumeFlag, value, fmt.Sprintf("the source %q has no kind before a colon", source), volumeForms)
	case !known:
		return edit, badValue(volumeFlag, value, fmt.Sprintf("%q is not a kind of volume source", prefix), volumeForms)
	case kind == kindEmptyDir:
		// An emptyDir shows no object, so its options follow the kind:
		// NAME=ed:size=1Gi. NAME=ed::size=1Gi, with the empty object the
		// other kinds' shape would have, means the same.
		options := strings.TrimPrefix(rest, kindSeparator)
		if options != "" && !strings.Contains(options, keyValueSeparator) {
			return edit, badValue(volumeFlag, value,
				fmt.Sprintf("an emptyDir has no object to name, and %q is no option", options),
				fmt.Sprintf("%s=%s: or %s:%s, options after a colon, e.g. --volume ed:%s:size=1Gi", name, prefix, prefix, name, name))
		}
		var err error
		edit.source, err = emptyDirSource(value, options)
		return edit, err
	}
	object, options, _ := strings.Cut(rest, kindSeparator)
	if err := checkObjectName(volumeFlag, value, kind, object, volumeForms); err != nil {
		return edit, err
	}
	edit.source = objectSource(kind, object)
	want := volumeForms
	if kind == kindClaim {
		want = claimOptions
	}
	opts, err := splitOptions(volumeFlag, value, options, want)
	if err != nil {
		return edit, err
	}
	for _, o := range opts {
		if kind != kindClaim {
			return edit, badValue(volumeFlag, value, fmt.Sprintf("a %s volume takes no options, and %s was given", objectKindNames[kind], o.key),
				fmt.Sprintf("%s=%s:%s alone; a mount says readOnly, e.g. --mount /PATH=%s:readOnly=true", name, prefix, object, name))
		}
		if !strings.EqualFold(o.key, readOnlyOption) {
			return edit, badValue(volumeFlag, value, fmt.Sprintf("%q is not an option of a claim", o.key), claimOptions)
		}
		readOnly, ok := parseBool(o.value)
		if !ok {
			return edit, badValue(volumeFlag, value, fmt.Sprintf("readOnly %q is neither true nor false", o.value), claimOptions)
		}
		edit.source.PersistentVolumeClaim.ReadOnly = readOnly
	}
	return edit, nil
}

func emptyDirSource(value, options string) (corev1.VolumeSource, error) {
	dir := &corev1.EmptyDirVolumeSource{}
	opts, err := splitOptions(volumeFlag, value, options, emptyDirOptions)
	if err != nil {
		return corev1.VolumeSource{}, err
	}
	for _, o := range opts {
		switch {
		case strings.EqualFold(o.key, sizeOption):
			size, err := resource.ParseQuantity(o.value)
			if err != nil || size.Sign() <= 0 {
				return corev1.VolumeSource{}, badValue(volumeFlag, value,
					fmt.Sprintf("size %q is not a quantity above zero", o.value), "a size such as size=512Mi or size=1Gi")
			}
			dir.SizeLimit = &size
		case strings.EqualFold(o.key, typeOption):
			if !strings.EqualFold(o.value, string(corev1.StorageMediumMemory)) {
				return corev1.VolumeSource{}, badValue(volumeFlag, value,
					fmt.Sprintf("type %q is not a medium of an emptyDir", o.value),
					"type=Memory for space in RAM (tmpfs), or no type for the node's disk")
			}
			dir.Medium = corev1.StorageMediumMemory
		default:
			return corev1.VolumeSource{}, badValue(volumeFlag, value, fmt.Sprintf("%q is not an option of an emptyDir", o.key), emptyDirOptions)
		}
	}
	return corev1.VolumeSource{EmptyDir: dir}, nil
}

func objectSource(kind volumeKind, object string) corev1.VolumeSource {
	switch kind {
	case kindConfigMap:
		return corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: object}}}
	case kindSecret:
		return corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: object}}
	default:
		return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: object}}
	}
}

// setVolume replaces the source of the volume of v's name, in its place,
// or adds v.
func setVolume(pod *corev1.PodSpec, v corev1.Volume) {
	if i := slices.IndexFunc(pod.Volumes, func(old corev1.Volume) bool { return old.Name == v.Name }); i >= 0 {
		pod.Volumes[i] = v
		return
	}
	pod.Volumes = append(pod.Volumes, v)
}

// mountEdit is one --mount value: mount something at a path, or remove
// the mount at a path.
type mountEdit struct {
	value  string
	path   string // cleaned, as the webhook compares paths
	remove bool
	kind   volumeKind
	// name is the object's name for a ConfigMap, Secret or claim, and the
	// volume's otherwise.
	name     string
	subPath  string
	readOnly *bool // nil leaves it to the volume's kind
}

func parseMount(value string) (mountEdit, error) {
	edit := mountEdit{value: value}
	if p, ok := strings.CutSuffix(value, removeSuffix); ok && !strings.Contains(value, keyValueSeparator) {
		edit.remove = true
		var err error
		edit.path, err = cleanMountPath(value, p)
		return edit, err
	}
	p, source, ok := strings.Cut(value, keyValueSeparator)
	if !ok {
		return edit, badValue(mountFlag, value, "no = between the mount path and what to mount there", mountForms)
	}
	var err error
	if edit.path, err = cleanMountPath(value, p); err != nil {
		return edit, err
	}

	ref, options := source, ""
	if prefix, rest, ok := strings.Cut(source, kindSeparator); ok {
		kind, known := kindPrefixes[strings.ToLower(prefix)]
		switch {
		case known:
			edit.kind = kind
			ref, options, _ = strings.Cut(rest, kindSeparator)
		case strings.Contains(rest, keyValueSeparator):
			// VOLUME:readOnly=true: options after a volume's name.
			ref, options = prefix, rest
		default:
			return edit, badValue(mountFlag, value, fmt.Sprintf("%q is not a kind of volume source", prefix), mountForms)
		}
	}
	name, subPath, _ := strings.Cut(ref, subPathSeparator)
	switch edit.kind {
	case namedVolume:
		if name == "" {
			return edit, badValue(mountFlag, value, "the volume name is empty", mountForms)
		}
	case kindEmptyDir:
		err = checkVolumeName(mountFlag, value, name, mountForms)
	default:
		err = checkObjectName(mountFlag, value, edit.kind, name, mountForms)
	}
	if err != nil {
		return edit, err
	}
	edit.name = name
	if subPath != "" {
		// The node, like the kubelet, refuses a sub-path that could leave
		// the volume; better to say so before the revision fails.
		if path.IsAbs(subPath) || slices.Contains(strings.Split(subPath, "/"), "..") {
			return edit, badValue(mountFlag, value,
				fmt.Sprintf("the sub-path %q leaves the volume: it must be relative, without '..'", subPath), mountForms)
		}
		edit.subPath = path.Clean(subPath)
	}

	opts, err := splitOptions(mountFlag, value, options, mountOptions)
	if err != nil {
		return edit, err
	}
	for _, o := range opts {
		if !strings.EqualFold(o.key, readOnlyOption) {
			return edit, badValue(mountFlag, value, fmt.Sprintf("%q is not an option of a mount", o.key), mountOptions)
		}
		readOnly, ok := parseBool(o.value)
		if !ok {
			return edit, badValue(mountFlag, value, fmt.Sprintf("readOnly %q is neither true nor false", o.value), mountOptions)
		}
		edit.readOnly = &readOnly
	}
	return edit, nil
}

func cleanMountPath(value, p string) (string, error) {
	if !path.IsAbs(p) {
		return "", badValue(mountFlag, value, fmt.Sprintf("the mount path %q is not absolute", p), mountForms)
	}
	clean := path.Clean(p)
	if clean == "/" {
		return "", badValue(mountFlag, value, "a volume at / would hide the whole image", mountForms)
	}
	return clean, nil
}

func applyMount(pod *corev1.PodSpec, container *corev1.Container, edit mountEdit) error {
	at := slices.IndexFunc(container.VolumeMounts, func(m corev1.VolumeMount) bool { return path.Clean(m.MountPath) == edit.path })
	var replaced string
	if at >= 0 {
		replaced = container.VolumeMounts[at].Name
	}
	if edit.remove {
		if at >= 0 {
			container.VolumeMounts = slices.Delete(container.VolumeMounts, at, at+1)
			dropUnusedGeneratedVolume(pod, replaced)
		}
		return nil
	}

	volume, err := mountedVolume(pod, edit)
	if err != nil {
		return err
	}
	readOnly := readOnlyByDefault(volume.VolumeSource)
	if edit.readOnly != nil {
		if claim := volume.PersistentVolumeClaim; claim != nil && claim.ReadOnly && !*edit.readOnly {
			return fmt.Errorf("--%s %q: volume %s mounts claim %s read-only, so the mount cannot write; drop readOnly=false, or make the volume writable with --%s %s=pvc:%s:readOnly=false",
				mountFlag, edit.value, volume.Name, claim.ClaimName, volumeFlag, volume.Name, claim.ClaimName)
		}
		readOnly = *edit.readOnly
	}
	mount := corev1.VolumeMount{Name: volume.Name, MountPath: edit.path, SubPath: edit.subPath, ReadOnly: readOnly}
	if at < 0 {
		container.VolumeMounts = append(container.VolumeMounts, mount)
		return nil
	}
	container.VolumeMounts[at] = mount
	dropUnusedGeneratedVolume(pod, replaced)
	return nil
}

// mountedVolume returns the volume a mount shows, adding it when the
// flags make it.
func mountedVolume(pod *corev1.PodSpec, edit mountEdit) (corev1.Volume, error) {
	switch edit.kind {
	case namedVolume:
		v, found := findVolume(pod, edit.name)
		if !found {
			return v, fmt.Errorf("--%s %q: the pod has no volume %q; add it with --%s %s=cm:CONFIGMAP (or secret:, pvc:, ed:), or mount an object directly, e.g. --%s %s=cm:%s",
				mountFlag, edit.value, edit.name, volumeFlag, edit.name, mountFlag, edit.path, edit.name)
		}
		return v, nil
	case kindEmptyDir:
		v, found := findVolume(pod, edit.name)
		if !found {
			v = corev1.Volume{Name: edit.name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			pod.Volumes = append(pod.Volumes, v)
			return v, nil
		}
		if v.EmptyDir == nil {
			return v, fmt.Errorf("--%s %q: volume %s is there and is not an emptyDir; mount it as it is with --%s %s=%s, or give the emptyDir another name",
				mountFlag, edit.value, edit.name, mountFlag, edit.path, edit.name)
		}
		return v, nil
	}

	generated := generatedVolumeName(edit.kind, edit.name)
	if v, found := findVolume(pod, generated); found {
		if hasObjectSource(v, edit.kind, edit.name) {
			return v, nil
		}
		return v, fmt.Errorf("--%s %q: the volume name %s, which the flag gives %s %s, is taken by another source; mount that volume by name with --%s %s=%s, or remove it with --%s %s-",
			mountFlag, edit.value, generated, objectKindNames[edit.kind], edit.name, mountFlag, edit.path, generated, volumeFlag, generated)
	}
	// A volume the user named, or that another tool (kn) generated, for
	// the same object serves as well as a new one.
	if i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return hasObjectSource(v, edit.kind, edit.name) }); i >= 0 {
		return pod.Volumes[i], nil
	}
	v := corev1.Volume{Name: generated, VolumeSource: objectSource(edit.kind, edit.name)}
	pod.Volumes = append(pod.Volumes, v)
	return v, nil
}

// hasObjectSource reports whether v shows the whole of the object: a
// volume that projects some of its keys (items) shows something else.
func hasObjectSource(v corev1.Volume, kind volumeKind, object string) bool {
	switch kind {
	case kindConfigMap:
		return v.ConfigMap != nil && v.ConfigMap.Name == object && len(v.ConfigMap.Items) == 0
	case kindSecret:
		return v.Secret != nil && v.Secret.SecretName == object && len(v.Secret.Items) == 0
	case kindClaim:
		return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == object
	}
	return false
}

// readOnlyByDefault is what a mount without readOnly= gets. ConfigMaps
// and Secrets are read-only wherever they are mounted (the node, like the
// kubelet, makes them so), and Knative's webhook refuses their mounts
// unless they say it, so they say it, keeping the spec portable. A
// read-only claim makes a read-only mount, as Knative also requires.
func readOnlyByDefault(source corev1.VolumeSource) bool {
	switch {
	case source.ConfigMap != nil, source.Secret != nil, source.Projected != nil, source.DownwardAPI != nil:
		return true
	case source.PersistentVolumeClaim != nil:
		return source.PersistentVolumeClaim.ReadOnly
	}
	return false
}

// generatedVolumeName is the name of the volume a --mount makes for an
// object: KIND-OBJECT (cm-settings, secret-tls, pvc-data) when that is a
// valid volume name. When it is not (the object's name has dots or is too
// long), the dots become '-', it is cut to leave room, and a hash of the
// kind and the object's name follows, so that distinct objects keep
// distinct volumes.
func generatedVolumeName(kind volumeKind, object string) string {
	prefix := generatedNamePrefixes[kind]
	name := prefix + "-" + object
	if len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(prefix + kindSeparator + object))
	hash := hex.EncodeToString(sum[:])[:volumeNameHashLength]
	readable := strings.ReplaceAll(name, ".", "-")
	readable = readable[:min(len(readable), validation.DNS1123LabelMaxLength-len(hash)-1)]
	return strings.TrimRight(readable, "-") + "-" + hash
}

// dropUnusedGeneratedVolume removes the volume name when the flags made it
// for a mount and no mount uses it any more. A volume the user named stays
// until --volume NAME- removes it.
func dropUnusedGeneratedVolume(pod *corev1.PodSpec, name string) {
	v, found := findVolume(pod, name)
	if !found {
		return
	}
	kind, object := objectOf(v.VolumeSource)
	if kind == namedVolume || name != generatedVolumeName(kind, object) {
		return
	}
	for _, c := range allContainers(pod) {
		if slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == name }) {
			return
		}
	}
	pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == name })
}

// objectOf returns the kind and name of the object a volume shows, or
// namedVolume for a source that shows none the flags make.
func objectOf(source corev1.VolumeSource) (volumeKind, string) {
	switch {
	case source.ConfigMap != nil:
		return kindConfigMap, source.ConfigMap.Name
	case source.Secret != nil:
		return kindSecret, source.Secret.SecretName
	case source.PersistentVolumeClaim != nil:
		return kindClaim, source.PersistentVolumeClaim.ClaimName
	}
	return namedVolume, ""
}

// checkRemovedVolumesUnmounted refuses to leave a mount of a volume that
// --volume NAME- removed: the webhook would refuse the revision.
func checkRemovedVolumesUnmounted(pod *corev1.PodSpec, serving *corev1.Container, removed []volumeEdit) error {
	for _, r := range removed {
		if _, found := findVolume(pod, r.name); found {
			continue // set again by a later --volume
		}
		for _, c := range allContainers(pod) {
			i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == r.name })
			if i < 0 {
				continue
			}
			at := c.VolumeMounts[i].MountPath
			if c == serving {
				return fmt.Errorf("--%s %q: the mount at %s still uses volume %s; remove the mount too with --%s %s-",
					volumeFlag, r.value, at, r.name, mountFlag, at)
			}
			return fmt.Errorf("--%s %q: container %q mounts volume %s at %s, and --%s edits only one container; keep the volume, or remove that mount from the spec",
				volumeFlag, r.value, c.Name, r.name, at, mountFlag)
		}
	}
	return nil
}

// allContainers are the pod's containers whose mounts name its volumes.
func allContainers(pod *corev1.PodSpec) []*corev1.Container {
	all := make([]*corev1.Container, 0, len(pod.Containers)+len(pod.InitContainers))
	for i := range pod.Containers {
		all = append(all, &pod.Containers[i])
	}
	for i := range pod.InitContainers {
		all = append(all, &pod.InitContainers[i])
	}
	return all
}

func findVolume(pod *corev1.PodSpec, name string) (corev1.Volume, bool) {
	if i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == name }); i >= 0 {
		return pod.Volumes[i], true
	}
	return corev1.Volume{}, false
}

func checkVolumeName(flag, value, name, want string) error {
	if name == "" {
		return badValue(flag, value, "the volume name is empty", want)
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		return badValue(flag, value, fmt.Sprintf("%q is not a volume name: %s", name, volumeNameRule), want)
	}
	return nil
}

func checkObjectName(flag, value string, kind volumeKind, name, want string) error {
	if name == "" {
		return badValue(flag, value, fmt.Sprintf("the %s name is empty", objectKindNames[kind]), want)
	}
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		return badValue(flag, value, fmt.Sprintf("%q is not a %s name: %s", name, objectKindNames[kind], objectNameRule), want)
	}
	return nil
}

type option struct{ key, value string }

// splitOptions reads KEY=VALUE[,KEY=VALUE...]; an empty string is no
// options, so that a trailing colon does no harm.
func splitOptions(flag, value, options, want string) ([]option, error) {
	if options == "" {
		return nil, nil
	}
	var opts []option
	for _, o := range strings.Split(options, optionSeparator) {
		key, v, ok := strings.Cut(o, keyValueSeparator)
		if !ok || key == "" {
			return nil, badValue(flag, value, fmt.Sprintf("the option %q is not KEY=VALUE", o), want)
		}
		opts = append(opts, option{key: key, value: v})
	}
	return opts, nil
}

func parseBool(s string) (value, ok bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// badValue is the error of a malformed flag value: the flag, the value,
// what is wrong with it, and what to write instead.
func badValue(flag, value, problem, want string) error {
	return fmt.Errorf("--%s %q: %s; want %s", flag, value, problem, want)
}
