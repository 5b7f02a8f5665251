package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/test/bench/internal/benchkit"
)

// readySample is one start-up: how long the app took to listen after it
// was executed, and how long after that the sidecar's readiness endpoint
// said 200.
type readySample struct {
	AppStartDelay time.Duration `json:"appStartDelay"`
	ExecToListen  time.Duration `json:"execToListen"`
	ListenToReady time.Duration `json:"listenToReady"`
}

// execToReady starts a sidecar, then, once it serves its admin port, the
// app, as the kubelet starts a pod's containers. The app prints the
// wall-clock time at which it listened; meanwhile the harness keeps a
// request on /ready, which the sidecar holds until the app passes its
// probe, so the 200 arrives as soon as the sidecar knows.
func (h *harness) execToReady(ctx context.Context, appStartDelay time.Duration) (readySample, error) {
	appPort, err := h.Ports.Pick()
	if err != nil {
		return readySample{}, err
	}
	sc, err := h.startSidecar(ctx, appPort, sidecarOptions{mode: queue.ModePort, containerConcurrency: throughputContainerConcurrency})
	if err != nil {
		return readySample{}, err
	}
	defer h.Sup.Stop(sc.proc)

	ctx, cancel := context.WithTimeout(ctx, appStartDelay+10*time.Second)
	defer cancel()
	readyAt := make(chan time.Time, 1)
	readyErr := make(chan error, 1)
	go func() {
		t, err := pollReady(ctx, sc.adminURL(queue.ReadyPath))
		if err != nil {
			readyErr <- err
			return
		}
		readyAt <- t
	}()

	r, w, err := os.Pipe()
	if err != nil {
		return readySample{}, err
	}
	defer r.Close()
	execAt := time.Now()
	app, err := h.Sup.Start("app-start", benchkit.StartOptions{CPU: h.PodCPU, Stdout: w},
		h.AppArgv(benchkit.AppSleep, appPort, "--announce", "--start-delay", appStartDelay.String())...)
	w.Close()
	if err != nil {
		return readySample{}, err
	}
	defer h.Sup.Stop(app)

	listened := make(chan time.Time, 1)
	go func() {
		if t, err := readAnnouncement(r); err == nil {
			listened <- t
		}
	}()
	s := readySample{AppStartDelay: appStartDelay}
	select {
	case t := <-listened:
		s.ExecToListen = t.Sub(execAt)
		select {
		case ready := <-readyAt:
			s.ListenToReady = ready.Sub(t)
			return s, nil
		case err := <-readyErr:
			return s, sc.proc.Failure(fmt.Errorf("waiting for /ready: %w", err))
		}
	case err := <-readyErr:
		return s, sc.proc.Failure(fmt.Errorf("waiting for /ready: %w", err))
	case <-app.Done():
		return s, app.Failure(fmt.Errorf("exited before listening: %w", app.Exit()))
	case <-ctx.Done():
		return s, app.Failure(errors.New("did not announce that it listens"))
	}
}

// pollReady asks url until it answers 200 and returns when it did.
func pollReady(ctx context.Context, url string) (time.Time, error) {
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return time.Time{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return time.Time{}, err
		}
		at := time.Now()
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return at, nil
		}
	}
}

// readAnnouncement reads the app's "listening <unix ns>" line.
func readAnnouncement(r io.Reader) (time.Time, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, benchkit.AnnouncePrefix)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the app's announcement %q: %w", line, err)
	}
	return time.Unix(0, ns), nil
}
