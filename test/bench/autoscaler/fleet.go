package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/queue"
)

// fleet is the simulated Revisions and their pods. The harness and the
// sidecars' process derive the same names, addresses and load from it.
type fleet struct {
	Revisions int `json:"revisions"`
	Pods      int `json:"podsPerRevision"`
}

// benchNamespace holds every simulated Revision.
const benchNamespace = "bench-autoscaler"

// podNet holds the pods' addresses, one each, from its second address on:
// lo answers for all of 127.0.0.0/8, and 127.0.0.1, where something may
// serve queue.MetricsPort already, is left alone.
var podNet = netip.MustParsePrefix("127.100.0.0/16")

// maxPods is how many addresses podNet has after its first.
const maxPods = 1<<16 - 1

func (f fleet) validate() error {
	switch {
	case f.Revisions < 1 || f.Pods < 1:
		return errors.New("--revisions and --pods must be at least 1")
	case f.Revisions*f.Pods > maxPods:
		return fmt.Errorf("%d revisions × %d pods is more than the %d addresses of %s", f.Revisions, f.Pods, maxPods, podNet)
	}
	return nil
}

// total is the number of pods.
func (f fleet) total() int { return f.Revisions * f.Pods }

// rev names Revision r.
func (f fleet) rev(r int) types.NamespacedName {
	return types.NamespacedName{Namespace: benchNamespace, Name: fmt.Sprintf("rev-%04d", r)}
}

// podName names pod j of Revision r, as a Deployment's pod would be.
func (f fleet) podName(r, j int) string { return f.rev(r).Name + "-" + strconv.Itoa(j) }

// podAddr is the address of pod j of Revision r.
func (f fleet) podAddr(r, j int) netip.Addr {
	a := podNet.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(r*f.Pods + j + 1)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// podIPs are the addresses of Revision r's pods, as the scraper is given
// them.
func (f fleet) podIPs(r int) []string {
	ips := make([]string, f.Pods)
	for j := range ips {
		ips[j] = f.podAddr(r, j).String()
	}
	return ips
}

// statsURL is where the scraper asks pod j of Revision r for its report.
func (f fleet) statsURL(r, j int) string {
	return "http://" + netip.AddrPortFrom(f.podAddr(r, j), queue.MetricsPort).String() + queue.StatsPath
}

// concurrency is how many requests pod j of Revision r has in flight at
// t since the sidecars started. Every tenth Revision is idle; the others
// have a mean between 0.5 and 8 per pod that swings by half around it
// over a period of 30 to 90 s, each pod out of phase with its siblings,
// so that the figures and the decisions keep changing.
func (f fleet) concurrency(r, j int, t time.Duration) float64 {
	if r%10 == 9 {
		return 0
	}
	mean := 0.5 + float64((r*37)%16)/2
	period := time.Duration(30+10*(r%7)) * time.Second
	phase := 2 * math.Pi * (t.Seconds()/period.Seconds() + float64(j)/float64(f.Pods))
	return mean * (1 + 0.5*math.Sin(phase))
}

// raiseFileLimit raises this process's soft limit of open files to its
// hard limit when need is above the soft one: every pod's listener or
// connection is a file.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("%d open files are needed and the hard limit is %d: raise it (ulimit -Hn) or simulate fewer pods", need, lim.Max)
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
