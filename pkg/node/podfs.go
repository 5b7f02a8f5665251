package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// maxHostnameLen is the longest hostname a pod gets (a DNS label).
const maxHostnameLen = 63

// podFilesystem is the sandbox part holding a pod's files on the host: a
// directory under the node's data directory with the pod's /tmp, its
// /etc/hosts, resolv.conf and hostname, and its volumes; API data volumes
// are kept up to date while the pod runs. Each container's filesystem is
// built from it when the container starts (rootPlanFor).
type podFilesystem struct {
	dir         string
	hideDir     string
	nodeIP      netip.Addr
	hostNetwork bool
	dns         clusterDNS
	projector   *projector
	clock       clock.WithTicker
	syncPeriod  time.Duration
	logger      *slog.Logger
	// record notes in the node state, before it is made, the pod's
	// directory (mount empty) or a tmpfs mounted on the host.
	record func(dir, mount string) error

	mu    sync.Mutex
	pod   *corev1.Pod
	addrs podAddresses
	fs    *podFS
	// mounts are the tmpfs mounts (emptyDir medium Memory) on the host.
	mounts []string
	// unsupported lists the volumes of kinds the node does not provide.
	unsupported []string
	// pending holds why API data volumes could not be projected yet
	// (their ConfigMap or Secret is missing), by volume name.
	pending map[string]error
	stop    context.CancelFunc
	stopped chan struct{}
}

func (p *podFilesystem) setUp(_ context.Context, sb *sandbox) error {
	if err := p.record(p.dir, ""); err != nil {
		return err
	}
	p.mu.Lock()
	pod := p.pod.DeepCopy()
	p.addrs = podAddresses{podIP: sb.ip.String(), hostIP: p.nodeIP.String()}
	addrs := p.addrs
	p.mu.Unlock()
	fsys := &podFS{
		rootDir:   filepath.Join(p.dir, "root"),
		tmpDir:    filepath.Join(p.dir, "tmp"),
		etcDir:    filepath.Join(p.dir, "etc"),
		homesDir:  filepath.Join(p.dir, "homes"),
		layersDir: filepath.Join(p.dir, "layers"),
		hideDir:   p.hideDir,
		volumes:   map[string]volumeDir{},
	}
	for _, d := range []string{fsys.rootDir, fsys.tmpDir, fsys.etcDir, filepath.Join(p.dir, "volumes")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// os.Chmod wants Go's sticky bit, not the octal 01000.
	if err := os.Chmod(fsys.tmpDir, fs.ModeSticky|0o777); err != nil {
		return err
	}
	hostname := podHostname(pod)
	if p.hostNetwork {
		hostname, _ = os.Hostname()
	}
	etc := map[string]string{
		"hosts":       hostsFile(pod, addrs.podIP, hostname, p.hostNetwork),
		"resolv.conf": resolvConf(pod, readHostFile("/etc/resolv.conf"), p.hostNetwork, p.dns),
		"hostname":    hostname + "\n",
	}
	for name, content := range etc {
		if err := os.WriteFile(filepath.Join(fsys.etcDir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	ctx := context.Background()
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		dir := filepath.Join(p.dir, "volumes", v.Name)
		switch {
		case v.EmptyDir != nil:
			if err := p.emptyDir(dir, v.EmptyDir); err != nil {
				return fmt.Errorf("emptyDir volume %s: %w", v.Name, err)
			}
			fsys.volumes[v.Name] = volumeDir{path: dir, writable: true}
		case isAPIVolume(v):
			// The directory exists even while its files cannot be made,
			// so that a container's mount plan can be built once they can.
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			fsys.volumes[v.Name] = volumeDir{path: dir}
			files, err := p.projector.project(ctx, pod, v, addrs)
			if err != nil {
				p.setPending(v.Name, err)
				continue
			}
			if _, err := writeAtomic(dir, files); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.HostPath != nil:
			if err := hostPathReady(v.HostPath); err != nil {
				return fmt.Errorf("hostPath volume %s: %w", v.Name, err)
			}
			fsys.volumes[v.Name] = volumeDir{path: v.HostPath.Path, writable: true}
		default:
			p.unsupported = append(p.unsupported, v.Name)
		}
	}
	fsys.volumesReady = p.volumesReady
	p.mu.Lock()
	p.fs = fsys
	p.mu.Unlock()

	rctx, cancel := context.WithCancel(context.Background())
	p.stop, p.stopped = cancel, make(chan struct{})
	go p.refresh(rctx)
	return nil
}

// emptyDir makes the volume's directory, world-writable as the kubelet
// makes it; medium Memory mounts a tmpfs there, sized by sizeLimit.
func (p *podFilesystem) emptyDir(dir string, v *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	if v.Medium != corev1.StorageMediumMemory {
		return nil
	}
	if err := p.record(p.dir, dir); err != nil {
		return err
	}
	data := "mode=777"
	if v.SizeLimit != nil && !v.SizeLimit.IsZero() {
		data += fmt.Sprintf(",size=%d", v.SizeLimit.Value())
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mounting a tmpfs at %s: %w", dir, err)
	}
	p.mu.Lock()
	p.mounts = append(p.mounts, dir)
	p.mu.Unlock()
	return nil
}

// hostPathReady checks a hostPath volume's type, making the directory or
// file for the ...OrCreate types.
func hostPathReady(v *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if v.Type != nil {
		t = *v.Type
	}
	st, err := os.Stat(v.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(err, fs.ErrNotExist) {
			return os.MkdirAll(v.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if errors.Is(err, fs.ErrNotExist) {
			f, err := os.OpenFile(v.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return err
	}
	if (t == corev1.HostPathDirectory || t == corev1.HostPathDirectoryOrCreate) && !st.IsDir() {
		return fmt.Errorf("%s is not a directory", v.Path)
	}
	if (t == corev1.HostPathFile || t == corev1.HostPathFileOrCreate) && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", v.Path)
	}
	return nil
}

// refresh projects the API data volumes again every syncPeriod, as the
// kubelet does: changed ConfigMaps, Secrets and labels show up in running
// pods, and service-account tokens are renewed before they expire. Errors
// keep the last files.
func (p *podFilesystem) refresh(ctx context.Context) {
	defer close(p.stopped)
	t := p.clock.NewTicker(p.syncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		p.syncOnce(ctx)
	}
}

func (p *podFilesystem) syncOnce(ctx context.Context) {
	p.mu.Lock()
	pod, addrs := p.pod.DeepCopy(), p.addrs
	p.mu.Unlock()
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !isAPIVolume(v) {
			continue
		}
		files, err := p.projector.project(ctx, pod, v, addrs)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Info("volume not updated", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "error", err)
				p.mu.Lock()
				if _, ok := p.pending[v.Name]; ok {
					p.pending[v.Name] = err
				}
				p.mu.Unlock()
			}
			continue
		}
		changed, err := writeAtomic(filepath.Join(p.dir, "volumes", v.Name), files)
		if err != nil {
			p.logger.Error("updating a volume", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "error", err)
			continue
		}
		if changed {
			p.logger.Debug("volume updated", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "files", sortedPaths(files))
		}
		p.setPending(v.Name, nil)
	}
}

func (p *podFilesystem) setPending(volume string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[string]error{}
	}
	if err == nil {
		delete(p.pending, volume)
	} else {
		p.pending[volume] = err
	}
}

// volumesReady tries the pending volumes again and reports the first
// still failing.
func (p *podFilesystem) volumesReady(ctx context.Context) error {
	p.mu.Lock()
	n := len(p.pending)
	p.mu.Unlock()
	if n == 0 {
		return nil
	}
	p.syncOnce(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return nil
	}
	name := slices.Sorted(maps.Keys(p.pending))[0]
	return fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", name, p.pending[name])
}

// updatePod takes the pod's latest metadata, for downward API volumes.
func (p *podFilesystem) updatePod(pod *corev1.Pod) {
	p.mu.Lock()
	p.pod = pod.DeepCopy()
	p.mu.Unlock()
}

// podFS is what the pod's containers are built from; nil before setUp.
func (p *podFilesystem) podFS() *podFS {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fs
}

func (p *podFilesystem) tearDown(*sandbox) error {
	if p.stop != nil {
		p.stop()
		<-p.stopped
		p.stop = nil
	}
	p.mu.Lock()
	mounts := p.mounts
	p.mounts = nil
	p.mu.Unlock()
	return removePodDir(p.dir, mounts)
}

// removePodDir unmounts the tmpfs mounts a pod's directory holds, then
// removes it. Mounts already gone are fine.
func removePodDir(dir string, mounts []string) error {
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	if len(errs) > 0 {
		// Never remove what a mount still shows: it may not be ours.
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the pod directory: %w", err)
	}
	return nil
}

// podHostname is the pod's hostname: spec.hostname, else its name, cut to
// a DNS label.
func podHostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > maxHostnameLen {
		h = strings.TrimRight(h[:maxHostnameLen], "-.")
	}
	return h
}

// hostsFile is the pod's /etc/hosts: loopback names, the pod's own name
// on its address (with its subdomain's FQDN when it has one) and
// hostAliases. hostNetwork pods get the host's file with their aliases.
func hostsFile(pod *corev1.Pod, podIP, hostname string, hostNetwork bool) string {
	var b strings.Builder
	if hostNetwork {
		b.WriteString(readHostFile("/etc/hosts"))
	} else {
		b.WriteString("# Kubernetes-managed hosts file.\n")
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		if sub := pod.Spec.Subdomain; sub != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.cluster.local\t%s\n", podIP, hostname, sub, pod.Namespace, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}

// clusterDNS is the cluster's DNS as a kubelet's --cluster-dns and
// --cluster-domain give it; without servers, pods get the host's resolver
// configuration.
type clusterDNS struct {
	servers []netip.Addr
	domain  string
}

// resolvConf is the pod's /etc/resolv.conf, made as a kubelet makes it
// for the pod's dnsPolicy:
//
//   - ClusterFirst (the default): the cluster DNS, searching the pod's
//     namespace, then svc and the cluster domain, then the host's search
//     domains, with ndots:5; a hostNetwork pod gets the host's file, as
//     does every pod while no cluster DNS is configured;
//   - ClusterFirstWithHostNet: ClusterFirst, for hostNetwork pods too;
//   - Default: the host's file;
//   - None: only what dnsConfig says.
//
// dnsConfig is merged in: nameservers and searches appended, options
// replacing those of the same name.
func resolvConf(pod *corev1.Pod, host string, hostNetwork bool, dns clusterDNS) string {
	var nameservers, searches []string
	var options []string
	if pod.Spec.DNSPolicy != corev1.DNSNone {
		sc := bufio.NewScanner(strings.NewReader(host))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "nameserver":
				nameservers = append(nameservers, f[1])
			case "search", "domain":
				searches = append(searches, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if usesClusterDNS(pod.Spec.DNSPolicy, hostNetwork) && len(dns.servers) > 0 {
		nameservers = nameservers[:0]
		for _, s := range dns.servers {
			nameservers = append(nameservers, s.String())
		}
		searches = append([]string{
			pod.Namespace + ".svc." + dns.domain, "svc." + dns.domain, dns.domain,
		}, searches...)
		options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		nameservers = append(nameservers, dc.Nameservers...)
		searches = append(searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = slices.DeleteFunc(options, func(s string) bool {
				name, _, _ := strings.Cut(s, ":")
				return name == o.Name
			})
			options = append(options, opt)
		}
	}
	var b strings.Builder
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

// usesClusterDNS says whether a pod with this dnsPolicy asks the cluster
// DNS: ClusterFirst (also when unset) unless it runs in the host's
// network, ClusterFirstWithHostNet always.
func usesClusterDNS(policy corev1.DNSPolicy, hostNetwork bool) bool {
	switch policy {
	case corev1.DNSClusterFirstWithHostNet:
		return true
	case corev1.DNSClusterFirst, "":
		return !hostNetwork
	}
	return false
}

// readHostFile reads a host file, empty when it cannot.
func readHostFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
