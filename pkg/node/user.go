package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// imageUser is the user an image runs as when the pod names none: what an
// image config's User gives a container runtime.
type imageUser struct {
	uid, gid int64
	// name is set when a registry image's config names its user by name,
	// which the kubelet will not take as non-root.
	name string
}

// nonroot is the user of ko's default base image (cgr.dev/chainguard/static,
// as distroless's static:nonroot before it): an executable image runs as
// it unless its mapping says otherwise, so that an app built with ko runs
// as the same user here as on a cluster.
var nonroot = imageUser{uid: 65532, gid: 65532}

// passwdEntry is a user of the /etc/passwd the node takes every image to
// have.
type passwdEntry struct {
	gid  int64
	home string
	// hasHome says the image has the home directory (nobody's
	// /nonexistent it has not).
	hasHome bool
}

// basePasswd is ko's base image's /etc/passwd. A container runtime reads
// from the image's the primary group of a runAsUser given without
// runAsGroup, and HOME; a user it does not list gets group 0 and HOME /.
var basePasswd = map[int64]passwdEntry{
	0:     {gid: 0, home: "/root", hasHome: true},
	65532: {gid: 65532, home: "/home/nonroot", hasHome: true},
	65534: {gid: 65534, home: "/nonexistent"},
}

// passwdUser is uid's entry in basePasswd, or what a runtime makes of a
// user the image does not list.
func passwdUser(uid int64) passwdEntry {
	return passwdUserIn(basePasswd, uid)
}

// passwdUserIn is uid's entry in passwd, or what a runtime makes of a
// user the image does not list.
func passwdUserIn(passwd map[int64]passwdEntry, uid int64) passwdEntry {
	if e, ok := passwd[uid]; ok {
		return e
	}
	return passwdEntry{gid: 0, home: "/"}
}

// ImageUserOption introduces the user an images ConfigMap value's
// executable runs as by default, after the executable and a space:
// "user=<uid>" or "user=<uid>:<gid>". Without it the executable runs as
// ko's nonroot (65532:65532); an executable that stands for an upstream
// image running as someone else names that image's user.
const ImageUserOption = "user="

// ImageMapping is an images ConfigMap value: executable (an absolute path
// or ko://<import path>), run as user ("<uid>" or "<uid>:<gid>") when the
// pod names no user; an empty user means ko's nonroot.
func ImageMapping(executable, user string) string {
	if user == "" {
		return executable
	}
	return executable + " " + ImageUserOption + user
}

// parseImageMapping splits an images ConfigMap value into the executable
// and the user it runs as (nil: nonroot).
func parseImageMapping(v string) (string, *imageUser, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return "", nil, errors.New("no executable")
	}
	var user *imageUser
	for _, opt := range fields[1:] {
		spec, ok := strings.CutPrefix(opt, ImageUserOption)
		if !ok || user != nil {
			return "", nil, fmt.Errorf("%q after the executable: only one %s<uid>[:<gid>] may follow it", opt, ImageUserOption)
		}
		u, err := parseImageUser(spec)
		if err != nil {
			return "", nil, err
		}
		user = &u
	}
	return fields[0], user, nil
}

// parseImageUser reads "<uid>" or "<uid>:<gid>"; a uid alone has its
// passwd group, as an image config's numeric User does.
func parseImageUser(s string) (imageUser, error) {
	uidText, gidText, hasGID := strings.Cut(s, ":")
	uid, err := strconv.ParseInt(uidText, 10, 32)
	if err != nil || uid < 0 {
		return imageUser{}, fmt.Errorf("%s%s: the user must be a number, optionally with :<group number>", ImageUserOption, s)
	}
	u := imageUser{uid: uid, gid: passwdUser(uid).gid}
	if hasGID {
		gid, err := strconv.ParseInt(gidText, 10, 32)
		if err != nil || gid < 0 {
			return imageUser{}, fmt.Errorf("%s%s: the group must be a number", ImageUserOption, s)
		}
		u.gid = gid
	}
	return u, nil
}

// identity is who a container's processes run as.
type identity struct {
	uid, gid int64
	groups   []int64
	// home is HOME when the container's env sets none, and hasHome says
	// the image has that directory.
	home    string
	hasHome bool
}

// containerIdentity is the user of container c of pod, as a kubelet and
// container runtime settle it: runAsUser and runAsGroup, the container's
// over the pod's, else the image's user (img; nil is nonroot);
// supplementalGroups and the groups the image's /etc/group lists the user
// in; a runAsUser without runAsGroup has its passwd group. users is a
// registry image's passwd and group files; nil: ko's base image's.
// runAsNonRoot refuses uid 0, and a user the image names by name, with
// the kubelet's messages.
func containerIdentity(pod *corev1.Pod, c *corev1.Container, img *imageUser, users *imageUsers) (identity, error) {
	user := nonroot
	if img != nil {
		user = *img
	}
	passwd := basePasswd
	if users != nil {
		passwd = users.passwd()
	}
	var runAsUser, runAsGroup *int64
	var runAsNonRoot *bool
	var groups []int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		runAsUser, runAsGroup, runAsNonRoot, groups = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot, psc.SupplementalGroups
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			runAsUser = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			runAsGroup = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			runAsNonRoot = sc.RunAsNonRoot
		}
	}
	id := identity{uid: user.uid, gid: user.gid, groups: slices.Clone(groups)}
	if runAsUser != nil {
		id.uid = *runAsUser
		id.gid = passwdUserIn(passwd, id.uid).gid
	}
	if runAsGroup != nil {
		id.gid = *runAsGroup
	}
	entry := passwdUserIn(passwd, id.uid)
	id.home, id.hasHome = entry.home, entry.hasHome
	for _, g := range users.supplementaryGroups(id.uid) {
		if !slices.Contains(id.groups, g) {
			id.groups = append(id.groups, g)
		}
	}
	if isTrue(runAsNonRoot) {
		pod := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
		switch {
		case runAsUser != nil && id.uid == 0:
			return identity{}, fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod, c.Name)
		case runAsUser == nil && user.name != "":
			return identity{}, fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user.name, pod, c.Name)
		case id.uid == 0:
			return identity{}, fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod, c.Name)
		}
	}
	return id, nil
}

// makeHome makes the empty home directory of a run of container name,
// owned by its user, under dir: the image's own, which a new run gets
// afresh, as a new container gets a new writable layer.
func makeHome(dir, name string, id identity) (string, error) {
	home := filepath.Join(dir, name)
	if err := os.RemoveAll(home); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", err
	}
	if err := os.Chown(home, int(id.uid), int(id.gid)); err != nil {
		return "", err
	}
	return home, nil
}
