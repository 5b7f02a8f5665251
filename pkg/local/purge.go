package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// The directories of a work directory that hold the cluster's state and
// outlive a stop, so that the next Up in the same work directory resumes
// the cluster.
const (
	// clusterDirName holds the control plane's data: etcd's, the CAs and
	// the service-account key (controlplane.Options.DataDir).
	clusterDirName = "cluster"
	// volumesDirName holds the StatefulSets' volumes (NATS's streams).
	volumesDirName = "volumes"
	// nodeDirName holds the node's state and the pods' logs.
	nodeDirName = "node"
)

// ClusterDir is the control plane's data directory in the work directory
// dir: give it as controlplane.Options.DataDir to keep the cluster across
// Stop and Up.
func ClusterDir(dir string) string { return filepath.Join(dir, clusterDirName) }

// HasCluster reports whether dir keeps the etcd data of an earlier run,
// which the next Up resumes.
func HasCluster(dir string) bool {
	_, err := os.Stat(filepath.Join(ClusterDir(dir), "etcd"))
	return err == nil
}

// purgedFile describes what Purge removes, for the user to read first.
type purgedFile struct {
	// pattern is a file name or a filepath.Match pattern in the work
	// directory.
	pattern string
	what    string
}

// purgedFiles is everything Up writes in a work directory, and only
// that: the directory may be one the user also keeps other files in.
var purgedFiles = []purgedFile{
	{clusterDirName, "etcd's data (every object made), the CAs and keys the kubeconfigs trust"},
	{volumesDirName, "the StatefulSets' volumes (NATS's event streams)"},
	{nodeDirName, "the node's state and the pods' logs"},
	{"*.log", "the components' logs"},
	{"*.kubeconfig", "the components' kubeconfigs"},
	{"kubeconfig", "the admin kubeconfig"},
	{"webhook", "the webhook's binary (run without the node)"},
	{"controller", "the controller's binary (run without the node)"},
}

// Purge deletes the cluster kept in the work directory dir and everything
// else Up wrote there, after listing it on out; the next Up starts an
// empty cluster. Nothing may run there: Down first.
func Purge(dir string, out io.Writer) error {
	if st, err := ReadState(dir); err == nil {
		return fmt.Errorf("flywheel still runs in %s (pid %d) or left things to remove: stop it first", dir, st.Owner.PID)
	} else if !errors.Is(err, ErrNoState) {
		return err
	}
	type victim struct{ path, what string }
	var victims []victim
	for _, f := range purgedFiles {
		matches, err := filepath.Glob(filepath.Join(dir, f.pattern))
		if err != nil {
			return err
		}
		slices.Sort(matches)
		for _, m := range matches {
			victims = append(victims, victim{m, f.what})
		}
	}
	if len(victims) == 0 {
		fmt.Fprintf(out, "Nothing to delete in %s.\n", dir)
		return nil
	}
	fmt.Fprintf(out, "Deleting the local cluster kept in %s:\n", dir)
	for _, v := range victims {
		fmt.Fprintf(out, "  %s: %s\n", filepath.Base(v.path), v.what)
	}
	var errs []error
	for _, v := range victims {
		if err := os.RemoveAll(v.path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deleting the local cluster: %w", err)
	}
	// The directory itself goes when nothing else is in it.
	if err := os.Remove(dir); err != nil && !errors.Is(err, syscall.ENOTEMPTY) {
		return err
	}
	fmt.Fprintln(out, "Deleted; the next fw local up starts an empty cluster.")
	return nil
}
