package node

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// imageConfig is the part of a registry image's config that a container
// of it runs with, unless its spec says otherwise.
type imageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
}

// containerArgv is the argv of a container of an image, by Kubernetes'
// rules: command replaces the image's Entrypoint and drops its Cmd; args
// alone replace Cmd; neither runs Entrypoint with Cmd.
func containerArgv(cfg imageConfig, command, args []string) ([]string, error) {
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(append(argv, command...), args...)
	case len(args) > 0:
		argv = append(append(argv, cfg.Entrypoint...), args...)
	default:
		argv = append(append(argv, cfg.Entrypoint...), cfg.Cmd...)
	}
	if len(argv) == 0 {
		return nil, errors.New("no command specified: the image has no Entrypoint or Cmd, so the container needs a command")
	}
	return argv, nil
}

// mergeEnv is a container's environment: the image's Env, each variable
// the container sets replacing the image's of that name in place, the
// rest appended in the container's order; PATH is the runtime's default
// when neither sets it.
func mergeEnv(imageEnv, containerEnv []string) []string {
	out := make([]string, 0, len(imageEnv)+len(containerEnv)+1)
	index := map[string]int{}
	set := func(kv string) {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			out[i] = kv
			return
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	for _, kv := range imageEnv {
		set(kv)
	}
	for _, kv := range containerEnv {
		set(kv)
	}
	if _, ok := index["PATH"]; !ok {
		out = append(out, "PATH="+defaultPath)
	}
	return out
}

// withoutDefaultPath drops from env (envResolver's) the PATH it sets when
// the container sets none, which under a registry image would hide the
// image's: mergeEnv applies the default after the image's Env instead.
func withoutDefaultPath(env []string, c *corev1.Container) []string {
	for _, e := range c.Env {
		if e.Name == "PATH" {
			return env
		}
	}
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return kv == "PATH="+defaultPath })
}

// containerWorkingDir is workingDir, else the image's WorkingDir, else /.
func containerWorkingDir(workingDir string, cfg imageConfig) string {
	switch {
	case workingDir != "":
		return workingDir
	case cfg.WorkingDir != "":
		return cfg.WorkingDir
	}
	return "/"
}

// imageUsers is what an image's /etc/passwd and /etc/group say.
type imageUsers struct {
	byUID  map[int64]passwdEntry
	byName map[string]int64
	// groups maps group names to their IDs; members lists the
	// supplementary groups of each user name.
	groups  map[string]int64
	members map[string][]int64
	names   map[int64]string
}

// readImageUsers reads the users and groups of the root filesystem at
// root; files the image lacks are empty tables. Symbolic links are
// resolved inside the root.
func readImageUsers(root string) (*imageUsers, error) {
	u := &imageUsers{
		byUID: map[int64]passwdEntry{}, byName: map[string]int64{},
		groups: map[string]int64{}, members: map[string][]int64{}, names: map[int64]string{},
	}
	err := readColonFile(root, "/etc/passwd", func(f []string) {
		// name:password:uid:gid:gecos:home:shell
		if len(f) < 6 {
			return
		}
		uid, err1 := strconv.ParseInt(f[2], 10, 64)
		gid, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return
		}
		if _, dup := u.byUID[uid]; !dup {
			u.byUID[uid] = passwdEntry{gid: gid, home: f[5], hasHome: true}
			u.names[uid] = f[0]
		}
		if _, dup := u.byName[f[0]]; !dup {
			u.byName[f[0]] = uid
		}
	})
	if err != nil {
		return nil, err
	}
	err = readColonFile(root, "/etc/group", func(f []string) {
		// name:password:gid:members
		if len(f) < 4 {
			return
		}
		gid, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return
		}
		if _, dup := u.groups[f[0]]; !dup {
			u.groups[f[0]] = gid
		}
		for m := range strings.SplitSeq(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				u.members[m] = append(u.members[m], gid)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// readColonFile calls line with the fields of each line of the file at p
// inside root, its symbolic links resolved inside the root.
func readColonFile(root, p string, line func([]string)) error {
	inRoot, err := resolveInRoot(root, p, false)
	if err != nil {
		return nil // behind a link out of the image: the image has none
	}
	f, err := os.Open(root + inRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the image's %s: %w", p, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		line(strings.Split(text, ":"))
	}
	return sc.Err()
}

// passwd is the table containerIdentity looks users up in.
func (u *imageUsers) passwd() map[int64]passwdEntry {
	if u == nil {
		return nil
	}
	return u.byUID
}

// supplementaryGroups are the groups /etc/group lists uid as a member of,
// which a container runtime adds to the process's groups.
func (u *imageUsers) supplementaryGroups(uid int64) []int64 {
	if u == nil {
		return nil
	}
	return u.members[u.names[uid]]
}

// imageUserOf is the user an image config's User names: "" is root; a
// user ("name" or "uid") alone has the primary group its passwd entry
// gives (0 when it has none); "user:group" names both, each by name or
// number. A name must be in the image's /etc/passwd or /etc/group, as a
// runtime looks it up. name is set when the user is given by name, which
// runAsNonRoot cannot check.
func imageUserOf(user string, users *imageUsers) (imageUser, error) {
	if user == "" {
		return imageUser{}, nil
	}
	userPart, groupPart, hasGroup := strings.Cut(user, ":")
	var u imageUser
	if uid, err := strconv.ParseInt(userPart, 10, 32); err == nil && uid >= 0 {
		u.uid = uid
	} else {
		uid, ok := users.byName[userPart]
		if !ok {
			return imageUser{}, fmt.Errorf("the image's user %q is not in its /etc/passwd; set securityContext.runAsUser to a uid", userPart)
		}
		u.uid, u.name = uid, userPart
	}
	u.gid = users.byUID[u.uid].gid
	if hasGroup {
		if gid, err := strconv.ParseInt(groupPart, 10, 32); err == nil && gid >= 0 {
			u.gid = gid
		} else {
			gid, ok := users.groups[groupPart]
			if !ok {
				return imageUser{}, fmt.Errorf("the image's group %q is not in its /etc/group; set securityContext.runAsGroup to a gid", groupPart)
			}
			u.gid = gid
		}
	}
	return u, nil
}

// imageIdentity is who container c of pod runs as when its image's config
// names user (containerIdentity, with the image's users and groups).
func imageIdentity(pod *corev1.Pod, c *corev1.Container, user string, users *imageUsers) (identity, error) {
	u, err := imageUserOf(user, users)
	if err != nil {
		return identity{}, err
	}
	return containerIdentity(pod, c, &u, users)
}
