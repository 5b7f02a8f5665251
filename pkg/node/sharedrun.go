package node

import (
	"context"
	"sync"
)

// sharedRun is work that concurrent callers share: the first caller for a
// key starts it, the others wait for the same result.
type sharedRun[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// joinRun returns the result of the run of key in runs (guarded by mu),
// starting work when none runs. The run is every waiting caller's, not
// the one that started it: it goes on when that caller gives up (ctx
// ends), and work brings its own context.
func joinRun[T any](ctx context.Context, mu *sync.Mutex, runs map[string]*sharedRun[T], key string, work func() (T, error)) (T, error) {
	mu.Lock()
	run, running := runs[key]
	if !running {
		run = &sharedRun[T]{done: make(chan struct{})}
		runs[key] = run
		go func() {
			run.val, run.err = work()
			mu.Lock()
			delete(runs, key)
			mu.Unlock()
			close(run.done)
		}()
	}
	mu.Unlock()
	select {
	case <-run.done:
		return run.val, run.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
