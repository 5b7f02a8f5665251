package node

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/imagetest"
)

// BenchmarkRegistryPull is a cold pull: an image of about 50 MB in 5
// layers (each a directory of 100 files, half random bytes, half text,
// so that gzip has something to do, as with real layers) from a registry
// on loopback into an empty cache, fetched and unpacked.
//
//	go test -run '^$' -bench RegistryPull -benchtime 5x ./pkg/node/
func BenchmarkRegistryPull(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("unpacking sets owners: needs root")
	}
	host := imagetest.Registry(b, "", "")
	rng := rand.New(rand.NewPCG(1, 2))
	var layers []v1.Layer
	var total int
	for l := range 5 {
		var entries []imagetest.Entry
		entries = append(entries, imagetest.Dir(fmt.Sprintf("layer%d", l)))
		for f := range 100 {
			body := make([]byte, 100<<10)
			for i := range body {
				if i < len(body)/2 {
					body[i] = byte(rng.Uint32())
				} else {
					body[i] = "flywheel registry image benchmark\n"[i%34]
				}
			}
			total += len(body)
			entries = append(entries, imagetest.File(fmt.Sprintf("layer%d/f%03d", l, f), string(body)))
		}
		layer, err := imagetest.Layer(imagetest.Tar(entries...))
		if err != nil {
			b.Fatal(err)
		}
		layers = append(layers, layer)
	}
	img, err := imagetest.Image(v1.Config{Entrypoint: []string{"/x"}}, runtime.GOARCH, layers...)
	if err != nil {
		b.Fatal(err)
	}
	ref := host + "/bench/big:1"
	if err := imagetest.Push(ref, img); err != nil {
		b.Fatal(err)
	}
	var compressed int64
	for _, l := range layers {
		n, _ := l.Size()
		compressed += n
	}
	b.Logf("image: %d layers, %.1f MB unpacked, %.1f MB compressed", len(layers), float64(total)/1e6, float64(compressed)/1e6)
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		r := newRegistryImages(nil, b.TempDir(), -1)
		b.StartTimer()
		start := time.Now()
		pulled, err := r.pull(b.Context(), ref, corev1.PullIfNotPresent, nil)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		pulled.release()
	}
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/pull")
}
