package benchkit

import (
	"context"
	"os"
	"time"
)

// Calm keeps the other tenants of a shared machine out of a run's
// figures, within budgets that bound the time they may add to the run.
type Calm struct {
	// Disturbed is how much CPU, in cores, other processes may use during
	// a window before the level is measured again.
	Disturbed float64
	// Retries is how many more levels may be measured again.
	Retries int
	// QuietBudget is what is left of the time for waiting until other
	// processes quieten down.
	QuietBudget time.Duration
}

// NewCalm returns the Calm of one run under s.
func NewCalm(s *Settings) *Calm {
	return &Calm{Disturbed: s.Disturbed, Retries: s.Retries, QuietBudget: s.QuietWait}
}

// Measure measures a level, and measures it again while other processes
// on the machine took more than c.Disturbed of a core during the window,
// as long as the retries last. It returns the least disturbed attempt and
// how many were made.
func (c *Calm) Measure(ctx context.Context, label string, measure func(context.Context) (LoadResult, error)) (LoadResult, int, error) {
	var best LoadResult
	for attempt := 1; ; attempt++ {
		if err := c.waitQuiet(ctx, label); err != nil {
			return LoadResult{}, attempt, err
		}
		lr, err := measure(ctx)
		if err != nil {
			return LoadResult{}, attempt, err
		}
		Progress("  %s %8.0f req/s  p99 %7.2f ms  errors %d  CPU elsewhere %3.0f%%",
			label, float64(lr.OK())/lr.Seconds, lr.Latency["ok"].P99, lr.Errors(), 100*lr.OtherCPU)
		if attempt == 1 || lr.OtherCPU < best.OtherCPU {
			best = lr
		}
		if lr.OtherCPU <= c.Disturbed || c.Retries <= 0 {
			return best, attempt, nil
		}
		c.Retries--
		Progress("  %s disturbed by other processes; measuring again (%d retries left in this run)", label, c.Retries)
	}
}

// quietSample is how long waitQuiet watches the machine at a time.
const quietSample = 250 * time.Millisecond

// waitQuiet waits, within what is left of the budget, until processes
// other than the harness use at most c.Disturbed of a core. Nothing of
// the benchmark's runs between levels, so whatever is busy then would
// disturb the next level.
func (c *Calm) waitQuiet(ctx context.Context, label string) error {
	announced := false
	for {
		before, err := MachineBusy()
		if err != nil {
			return err
		}
		self, err := CPUTime(os.Getpid())
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(quietSample):
		}
		after, err := MachineBusy()
		if err != nil {
			return err
		}
		selfAfter, err := CPUTime(os.Getpid())
		if err != nil {
			return err
		}
		others := ((after - before) - (selfAfter - self)).Seconds() / quietSample.Seconds()
		if others <= c.Disturbed || c.QuietBudget <= 0 {
			return nil
		}
		if !announced {
			Progress("  %s waiting for other processes to quieten (%.0f%% of a core busy; up to %s more in this run)",
				label, 100*others, c.QuietBudget.Round(time.Second))
			announced = true
		}
		c.QuietBudget -= quietSample
	}
}
