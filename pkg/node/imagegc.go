package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cachedImage is an image of the registry cache, as collect weighs it.
type cachedImage struct {
	manifest string
	lastUsed time.Time
	record   imageRecord
}

// collect removes the least recently used images no container runs, with
// the layers no remaining image shares, until the cache (layers and
// unpacked root filesystems) fits in maxBytes. An image a container runs
// stays, even over the bound, as does keep, the image just pulled for a
// container about to start.
func (r *registryImages) collect(keep string) {
	if r.maxBytes <= 0 {
		return
	}
	r.cacheLock.Lock()
	defer r.cacheLock.Unlock()
	images := r.cachedImages()
	blobSizes := map[string]int64{}
	users := map[string]int{}
	var total int64
	for _, img := range images {
		total += img.record.RootfsBytes
		for _, l := range img.record.Layers {
			users[l]++
			if _, ok := blobSizes[l]; ok {
				continue
			}
			if st, err := os.Stat(r.blobPath(l)); err == nil {
				blobSizes[l] = st.Size()
				total += st.Size()
			}
		}
	}
	slices.SortFunc(images, func(a, b cachedImage) int { return a.lastUsed.Compare(b.lastUsed) })
	for _, img := range images {
		if total <= r.maxBytes {
			return
		}
		r.mu.Lock()
		used := r.inUse[img.manifest] > 0
		r.mu.Unlock()
		if used || img.manifest == keep {
			continue
		}
		// The record goes first: without it the image counts as absent
		// and is pulled again, whatever of it is left.
		if err := os.Remove(r.recordPath(img.manifest)); err != nil {
			continue
		}
		_ = os.RemoveAll(r.rootfsPath(img.manifest))
		_ = os.Remove(r.rootfsPath(img.manifest) + ".lock")
		total -= img.record.RootfsBytes
		for _, l := range img.record.Layers {
			if users[l]--; users[l] == 0 {
				if os.Remove(r.blobPath(l)) == nil {
					total -= blobSizes[l]
				}
			}
		}
	}
}

// cachedImages lists the images of the cache with their last use.
func (r *registryImages) cachedImages() []cachedImage {
	entries, err := os.ReadDir(filepath.Join(r.dir, "images"))
	if err != nil {
		return nil
	}
	var out []cachedImage
	for _, e := range entries {
		manifest, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		b, err := os.ReadFile(r.recordPath(manifest))
		if err != nil {
			continue
		}
		var rec imageRecord
		if json.Unmarshal(b, &rec) != nil {
			continue
		}
		out = append(out, cachedImage{manifest: manifest, lastUsed: info.ModTime(), record: rec})
	}
	return out
}
