package wait

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"knative.dev/pkg/apis"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
)

// rewatchDelay keeps a watch that the server keeps closing from turning
// into a busy loop of gets.
const rewatchDelay = time.Second

// Client is the part of a typed client that waiting needs.
type Client[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// Check looks at the object as it now is (found is false once it is
// gone) and says whether the wait is over, or failed.
type Check[T metav1.Object] func(obj T, found bool) (done bool, err error)

// Until reads the object called name and then watches it until check says
// done or fails, or ctx ends. It returns the object last seen.
func Until[T metav1.Object](ctx context.Context, c Client[T], name string, check Check[T]) (T, error) {
	var last T
	for {
		obj, err := c.Get(ctx, name, metav1.GetOptions{})
		found := err == nil
		if err != nil && !apierrs.IsNotFound(err) {
			return last, err
		}
		var resourceVersion string
		if found {
			last, resourceVersion = obj, obj.GetResourceVersion()
		}
		if done, err := check(obj, found); done || err != nil {
			return last, err
		}
		w, err := c.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: resourceVersion,
		})
		if err != nil {
			return last, err
		}
		seen, done, err := follow(ctx, w, name, check)
		w.Stop()
		if seen != nil {
			last = *seen
		}
		if done || err != nil {
			return last, err
		}
		// The watch ended (a server timeout, or history too old to resume
		// from): read the object again and watch anew.
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(rewatchDelay):
		}
	}
}

// follow applies check to each event of w until it says done, fails, or
// the watch ends.
func follow[T metav1.Object](ctx context.Context, w watch.Interface, name string, check Check[T]) (*T, bool, error) {
	var last *T
	for {
		select {
		case <-ctx.Done():
			return last, false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return last, false, nil
			}
			obj, isT := ev.Object.(T)
			if !isT || obj.GetName() != name {
				continue
			}
			var done bool
			var err error
			if ev.Type == watch.Deleted {
				var zero T
				done, err = check(zero, false)
			} else {
				last = &obj
				done, err = check(obj, true)
			}
			if done || err != nil {
				return last, done, err
			}
		}
	}
}

// Deleter is the part of a typed client that deleting needs.
type Deleter[T metav1.Object] interface {
	Client[T]
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Delete deletes the kind (its name for messages) called name in ns and,
// with a timeout above zero, waits at most that long until it is gone.
func Delete[T metav1.Object](ctx context.Context, c Deleter[T], kind, ns, name string, timeout time.Duration) error {
	err := c.Delete(ctx, name, metav1.DeleteOptions{})
	switch {
	case apierrs.IsNotFound(err):
		return fmt.Errorf("no %s %s in namespace %s", kind, name, ns)
	case err != nil:
		return fmt.Errorf("deleting %s %s: %w", kind, name, err)
	case timeout <= 0:
		return nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := Until(waitCtx, c, name, func(_ T, found bool) (bool, error) { return !found, nil }); err != nil {
		return fmt.Errorf("waiting for %s %s to be gone: %w", kind, name, err)
	}
	return nil
}

// NotReadyError says why a Service did not become Ready: the condition
// that failed and, when its latest Revision failed, that Revision's.
type NotReadyError struct {
	Service   string
	Condition apis.Condition
	// Revision and RevisionCondition name the latest created Revision's
	// failed condition, when there is one.
	Revision          string
	RevisionCondition *apis.Condition
	// TimedOut is set when the wait gave up rather than the Service
	// failing.
	TimedOut time.Duration
}

func (e *NotReadyError) Error() string {
	var msg string
	if e.TimedOut > 0 {
		msg = fmt.Sprintf("Service %s did not become ready within %v; it says %s", e.Service, e.TimedOut, describe(e.Condition))
	} else {
		msg = fmt.Sprintf("Service %s failed: %s", e.Service, describe(e.Condition))
	}
	if e.RevisionCondition != nil {
		msg += fmt.Sprintf("\nRevision %s: %s", e.Revision, describe(*e.RevisionCondition))
	}
	if e.TimedOut > 0 {
		msg += "\nWait longer with --wait-timeout, or see fw service describe " + e.Service
	}
	return msg
}

func describe(c apis.Condition) string {
	s := fmt.Sprintf("%s is %s", c.Type, c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

// DefaultErrorWindow is how long a Service may read Ready False before a
// wait gives up on it, unless told otherwise (kn's --wait-window). A
// Service passes through False on its way to Ready when, for instance, a
// Revision's first pod crashes once and then starts; failing at the first
// False would report a failure that heals itself moments later.
const DefaultErrorWindow = 2 * time.Second

// Bounds bound a wait for readiness.
type Bounds struct {
	// Timeout is how long the wait lasts at most.
	Timeout time.Duration
	// ErrorWindow is how long Ready must read False to count as a
	// failure.
	ErrorWindow time.Duration
}

// For is Bounds with the given timeout and the default error window.
func For(timeout time.Duration) Bounds {
	return Bounds{Timeout: timeout, ErrorWindow: DefaultErrorWindow}
}

// ErrStayedFalse ends a ForReady whose object read Ready False for the
// whole error window.
var ErrStayedFalse = errors.New("the Ready condition stayed False")

// ErrTimedOut ends a ForReady whose object was not Ready in time.
var ErrTimedOut = errors.New("not ready in time")

// ForReady waits until the object called name is Ready at generation (or
// a later one), for at most bounds.Timeout; readiness reads an object's
// observed generation and Ready condition. A Ready False must last
// bounds.ErrorWindow before it counts: then the error wraps
// ErrStayedFalse. Past the timeout it
// wraps ErrTimedOut. Either way the object last seen comes back (the zero
// value if it never appeared). kind names the object in errors.
func ForReady[T metav1.Object](ctx context.Context, c Client[T], kind, name string, generation int64, bounds Bounds, readiness func(T) (int64, *apis.Condition)) (T, error) {
	waitCtx, cancel := context.WithTimeout(ctx, bounds.Timeout)
	defer cancel()
	windowCtx, failed := context.WithCancelCause(waitCtx)
	defer failed(nil)
	// The check runs on Until's goroutine only, so the timer needs no
	// lock; it stops when the object leaves False.
	var stayedFalse *time.Timer
	defer func() {
		if stayedFalse != nil {
			stayedFalse.Stop()
		}
	}()
	obj, err := Until(windowCtx, c, name, func(o T, found bool) (bool, error) {
		if !found {
			return false, fmt.Errorf("the %s %s was deleted while waiting for it to become ready", kind, name)
		}
		observed, ready := readiness(o)
		if observed < generation {
			return false, nil // the controller has not seen this change yet
		}
		switch {
		case ready.IsTrue():
			return true, nil
		case ready.IsFalse():
			if stayedFalse == nil {
				stayedFalse = time.AfterFunc(bounds.ErrorWindow, func() { failed(ErrStayedFalse) })
			}
		case stayedFalse != nil:
			stayedFalse.Stop()
			stayedFalse = nil
		}
		return false, nil
	})
	switch {
	case errors.Is(context.Cause(windowCtx), ErrStayedFalse):
		return obj, fmt.Errorf("the %s %s: %w", kind, name, ErrStayedFalse)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return obj, fmt.Errorf("the %s %s within %v: %w", kind, name, bounds.Timeout, ErrTimedOut)
	}
	return obj, err
}

// ForServiceReady waits until the Service is Ready at generation (or a
// later one), within bounds. When it fails (Ready False for the error
// window) or times out, the error is a *NotReadyError with the reason and
// message of what failed.
func ForServiceReady(ctx context.Context, client servingv1client.ServingV1Interface, namespace, name string, generation int64, bounds Bounds) (*servingv1.Service, error) {
	svc, err := ForReady(ctx, client.Services(namespace), "Service", name, generation, bounds, func(s *servingv1.Service) (int64, *apis.Condition) {
		return s.Status.ObservedGeneration, s.Status.GetCondition(servingv1.ServiceConditionReady)
	})
	switch {
	case errors.Is(err, ErrStayedFalse):
		return svc, notReady(ctx, client, svc, 0)
	case errors.Is(err, ErrTimedOut):
		if svc == nil {
			return nil, fmt.Errorf("the Service %s did not appear within %v", name, bounds.Timeout)
		}
		return svc, notReady(ctx, client, svc, bounds.Timeout)
	}
	return svc, err
}

// notReady explains why s is not Ready: the most specific condition that
// is not True, and the failed condition of its latest Revision.
func notReady(ctx context.Context, client servingv1client.ServingV1Interface, s *servingv1.Service, timedOut time.Duration) *NotReadyError {
	e := &NotReadyError{Service: s.Name, TimedOut: timedOut}
	e.Condition = worstCondition(s.Status.Conditions, servingv1.ServiceConditionReady)
	if e.Condition.Status != corev1.ConditionTrue && s.Generation > s.Status.ObservedGeneration {
		e.Condition.Message = "the controller has not yet seen the latest change"
	}
	name := s.Status.LatestCreatedRevisionName
	if name == "" {
		return e
	}
	rev, err := client.Revisions(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return e
	}
	if c := worstCondition(rev.Status.Conditions, servingv1.RevisionConditionReady); c.Status == corev1.ConditionFalse {
		e.Revision, e.RevisionCondition = name, &c
	}
	return e
}

// worstCondition returns a False condition other than the summary one
// (it says more), else the summary if False, else the first Unknown.
// A missing summary condition is Unknown.
func worstCondition(conds []apis.Condition, summary apis.ConditionType) apis.Condition {
	for _, status := range []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionUnknown} {
		for _, c := range conds {
			if c.Type != summary && c.Status == status && c.Severity == apis.ConditionSeverityError {
				return c
			}
		}
		for _, c := range conds {
			if c.Type == summary && c.Status == status {
				return c
			}
		}
	}
	for _, c := range conds {
		if c.Type == summary {
			return c
		}
	}
	return apis.Condition{Type: summary, Status: corev1.ConditionUnknown, Message: "no status reported yet"}
}
