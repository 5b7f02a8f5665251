package node

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"flywheel.dev/pkg/node/containerinit"
)

// The OCI image layout's whiteouts: an entry ".wh.<name>" deletes <name>
// of the layers below; ".wh..wh..opq" in a directory hides everything the
// layers below put there.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// maxSymlinkHops bounds symbolic links followed while resolving one
// entry's path, as the kernel's ELOOP does.
const maxSymlinkHops = 40

// errDeviceNode is a layer's character or block device, which unpacking
// leaves out.
var errDeviceNode = errors.New("device nodes are not unpacked")

// errOutsideRoot is a layer entry or link that would lead out of the root
// filesystem being unpacked.
var errOutsideRoot = errors.New("leads out of the image's root filesystem")

// layerUnpacker applies an image's layers, lowest first, to one directory
// on the host, which becomes the image's root filesystem: files, modes,
// owners, links and whiteouts as the layers say. It runs as root (the
// node does) so that owners can be set.
type layerUnpacker struct {
	root string
	// created holds the paths the current layer made, which its own
	// whiteouts leave alone: they hide the layers below only.
	created map[string]bool
	// dirTimes are directory modification times, set once the layer is
	// done: adding entries changes a directory's time.
	dirTimes map[string]time.Time
}

// unpackLayer applies one uncompressed layer tar stream to root. name
// identifies the layer in errors.
func unpackLayer(root string, r io.Reader, name string) error {
	u := &layerUnpacker{root: root, created: map[string]bool{}, dirTimes: map[string]time.Time{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("layer %s: reading the tar stream: %w", name, err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("layer %s: entry %q: %w", name, hdr.Name, err)
		}
	}
	for p, t := range u.dirTimes {
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, u.root+p, []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// cleanEntryPath is a tar entry's name as an absolute path inside the
// root, or errOutsideRoot when its ".." elements climb above it.
func cleanEntryPath(name string) (string, error) {
	depth := 0
	for _, elem := range strings.Split(name, "/") {
		switch elem {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return "", errOutsideRoot
			}
		default:
			depth++
		}
	}
	return path.Clean("/" + name), nil
}

func (u *layerUnpacker) entry(hdr *tar.Header, r io.Reader) error {
	p, err := cleanEntryPath(hdr.Name)
	if err != nil {
		return err
	}
	if p == "/" {
		// The root itself: its mode and owner, nothing else.
		return u.attributes("/", hdr)
	}
	dir, base := path.Dir(p), path.Base(p)
	parent, err := u.resolveDir(dir)
	if err != nil {
		return err
	}
	switch {
	case base == opaqueWhiteout:
		return u.clearDir(parent)
	case strings.HasPrefix(base, whiteoutPrefix):
		target := path.Join(parent, strings.TrimPrefix(base, whiteoutPrefix))
		if u.created[target] {
			return nil
		}
		if err := os.RemoveAll(u.root + target); err != nil {
			return fmt.Errorf("applying the whiteout: %w", err)
		}
		return nil
	}
	target := path.Join(parent, base)
	if err := u.make(target, hdr, r); errors.Is(err, errDeviceNode) {
		return nil
	} else if err != nil {
		return err
	}
	u.created[target] = true
	return u.attributes(target, hdr)
}

// make creates target as hdr describes, replacing what a lower layer put
// there unless both are directories.
func (u *layerUnpacker) make(target string, hdr *tar.Header, r io.Reader) error {
	host := u.root + target
	existing, err := os.Lstat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case existing.IsDir() && hdr.Typeflag == tar.TypeDir:
		return nil
	default:
		if err := os.RemoveAll(host); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return os.Mkdir(host, 0o700)
	case tar.TypeReg:
		f, err := os.OpenFile(host, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			_ = f.Close()
			return err
		}
		return f.Close()
	case tar.TypeSymlink:
		// The target is left as written: it is resolved inside the
		// container, whose root this is, never on the host.
		return os.Symlink(hdr.Linkname, host)
	case tar.TypeLink:
		linked, err := cleanEntryPath(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		ldir, err := u.resolveDir(path.Dir(linked))
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		src := u.root + path.Join(ldir, path.Base(linked))
		st, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		if st.IsDir() {
			return fmt.Errorf("hard link to %q: it is a directory", hdr.Linkname)
		}
		return os.Link(src, host)
	case tar.TypeChar, tar.TypeBlock:
		// Not made: no device cgroup stands between a container and the
		// host here, so a node an image names (the host's disk, say)
		// would be the real device; the container's /dev holds the
		// devices it gets. What a lower layer had at the path is gone,
		// as the entry replaces it.
		return errDeviceNode
	case tar.TypeFifo:
		return unix.Mknod(host, unix.S_IFIFO|0o600, 0)
	}
	return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
}

// attributes gives target the owner, mode, extended attributes and
// modification time hdr says. The owner comes first: chown clears the
// setuid and setgid bits.
func (u *layerUnpacker) attributes(target string, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeLink {
		return nil // a hard link shares the linked file's inode, owner and mode
	}
	host := u.root + target
	if err := os.Lchown(host, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("setting the owner %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Lsetxattr(host, attr, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("setting the extended attribute %s: %w", attr, err)
			}
		}
	}
	if hdr.Typeflag == tar.TypeSymlink {
		t := unix.NsecToTimespec(hdr.ModTime.UnixNano())
		return unix.UtimesNanoAt(unix.AT_FDCWD, host, []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW)
	}
	// Raw mode bits: os.Chmod wants Go's setuid, setgid and sticky flags.
	if err := unix.Chmod(host, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("setting the mode %o: %w", hdr.Mode&0o7777, err)
	}
	if hdr.Typeflag == tar.TypeDir {
		u.dirTimes[target] = hdr.ModTime
		return nil
	}
	t := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, host, []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW)
}

// clearDir empties dir of what lower layers put there (an opaque
// whiteout), keeping what this layer made.
func (u *layerUnpacker) clearDir(dir string) error {
	entries, err := os.ReadDir(u.root + dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if u.created[p] {
			continue
		}
		if err := os.RemoveAll(u.root + p); err != nil {
			return fmt.Errorf("applying the opaque whiteout: %w", err)
		}
	}
	return nil
}

// resolveDir resolves dir (absolute, clean, inside the root) to the
// directory it names in the root (resolveInRoot), making missing
// directories, as tar entries may come before their parents'.
func (u *layerUnpacker) resolveDir(dir string) (string, error) {
	return resolveInRoot(u.root, dir, true)
}

// resolveInRoot resolves p to the path it names inside the root
// filesystem at root, following symbolic links as the container would
// see them: an absolute link starts again at the root. A ".." or a link
// that climbs above the root is refused (errOutsideRoot). With makeDirs,
// missing elements are made as directories.
func resolveInRoot(root, p string, makeDirs bool) (string, error) {
	pending := containerinit.SplitPath(p)
	cur := "/"
	hops := 0
	for len(pending) > 0 {
		elem := pending[0]
		pending = pending[1:]
		if elem == ".." {
			if cur == "/" {
				return "", errOutsideRoot
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, elem)
		st, err := os.Lstat(root + next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if makeDirs {
				if err := os.Mkdir(root+next, 0o755); err != nil {
					return "", err
				}
			}
		case err != nil:
			return "", err
		case st.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > maxSymlinkHops {
				return "", fmt.Errorf("%s: too many symbolic links", p)
			}
			link, err := os.Readlink(root + next)
			if err != nil {
				return "", err
			}
			if path.IsAbs(link) {
				cur = "/"
			}
			linkElems := containerinit.SplitPath(link)
			if err := checkLink(cur, linkElems, next); err != nil {
				return "", err
			}
			pending = append(linkElems, pending...)
			continue
		case makeDirs && !st.IsDir():
			return "", fmt.Errorf("%s is not a directory", next)
		}
		cur = next
	}
	return cur, nil
}

// checkLink refuses a symbolic link at link whose target, taken from dir,
// climbs above the root.
func checkLink(dir string, target []string, link string) error {
	depth := len(containerinit.SplitPath(dir))
	for _, e := range target {
		if e == ".." {
			if depth--; depth < 0 {
				return fmt.Errorf("symbolic link %s %w", link, errOutsideRoot)
			}
		} else {
			depth++
		}
	}
	return nil
}
