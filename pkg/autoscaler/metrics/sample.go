package metrics

import "math"

// Constants of SampleSize: a 95% confidence (z) that the mean load per
// pod measured on the sample is within 20% of the true mean, assuming
// the pods' loads vary as much as their mean (a coefficient of variation
// of 1, more than a load-balanced Revision shows).
const (
	sampleZ              = 1.96
	sampleRelativeError  = 0.2
	sampleVariationCoeff = 1.0
)

// SampleSize returns how many of a Revision's ready pods to scrape each
// second: all of a few, and a share that shrinks as they grow (Cochran's
// sample size with the finite population correction): 10 of 10, 50 of
// 100, 88 of 1,000.
func SampleSize(pods int) int {
	if pods <= 3 {
		return pods
	}
	r := sampleZ * sampleVariationCoeff / sampleRelativeError
	n0 := r * r
	n := n0 * float64(pods) / (n0 + float64(pods) - 1)
	return min(pods, int(math.Ceil(n)))
}
