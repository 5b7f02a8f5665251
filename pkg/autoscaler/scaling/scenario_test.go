package scaling

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A scenario file is a timeline, one decision per line:
//
//	# what the scenario shows
//	spec target=10 tbc=0 …            the Spec from here on (keys below)
//	at 12s stable=50 panic=50 ready=5 => pods=5 panic=no ebc=-1
//
// "at" gives the time since the start and the Load (stable, panic, ready,
// waiting); after "=>" come the
// parts of the Decision to check: pods, panic (yes/no), ebc, activator
// (yes/no: ActivatorInPath), zero (yes/no: ScalingToZero). Unlisted parts
// are not checked. A spec line changes the Spec by Update, keeping what
// the decider remembers; its keys default as config-autoscaler does.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.scenario")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".scenario"), func(t *testing.T) { runScenario(t, file) })
	}
}

func runScenario(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	var d *Decider
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		where := fmt.Sprintf("%s:%d", file, n)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch fields[0] {
		case "spec":
			spec, err := parseSpec(fields[1:])
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if d == nil {
				d = NewDecider(spec)
			} else {
				d.Update(spec)
			}
		case "at":
			if d == nil {
				t.Fatalf("%s: a spec line must come first", where)
			}
			at, load, want, err := parseStep(fields[1:])
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			got := d.Decide(start.Add(at), load)
			for _, problem := range want.check(got) {
				t.Errorf("%s: %s\n\tline: %s", where, problem, line)
			}
		default:
			t.Fatalf("%s: a line starts with spec, at or #, not %q", where, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func parseSpec(kvs []string) (Spec, error) {
	s := Spec{
		PanicThreshold:         2,
		MaxScaleUpRate:         1000,
		MaxScaleDownRate:       2,
		StableWindow:           60 * time.Second,
		Reachable:              true,
		ActivationScale:        1,
		EnableScaleToZero:      true,
		ScaleToZeroGracePeriod: 30 * time.Second,
	}
	total := -1.0
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return s, fmt.Errorf("%q is not key=value", kv)
		}
		var err error
		switch k {
		case "target":
			s.TargetPerPod, err = strconv.ParseFloat(v, 64)
		case "total":
			total, err = strconv.ParseFloat(v, 64)
		case "tbc":
			s.TargetBurstCapacity, err = strconv.ParseFloat(v, 64)
		case "panic-threshold":
			s.PanicThreshold, err = strconv.ParseFloat(v, 64)
		case "max-up":
			s.MaxScaleUpRate, err = strconv.ParseFloat(v, 64)
		case "max-down":
			s.MaxScaleDownRate, err = strconv.ParseFloat(v, 64)
		case "stable-window":
			s.StableWindow, err = time.ParseDuration(v)
		case "delay":
			s.ScaleDownDelay, err = time.ParseDuration(v)
		case "grace":
			s.ScaleToZeroGracePeriod, err = time.ParseDuration(v)
		case "min":
			s.MinScale, err = parseInt32(v)
		case "max":
			s.MaxScale, err = parseInt32(v)
		case "activation":
			s.ActivationScale, err = parseInt32(v)
		case "reachable":
			s.Reachable, err = strconv.ParseBool(v)
		case "scale-to-zero":
			s.EnableScaleToZero, err = strconv.ParseBool(v)
		default:
			return s, fmt.Errorf("unknown spec key %q", k)
		}
		if err != nil {
			return s, fmt.Errorf("%s: %w", kv, err)
		}
	}
	if s.TotalPerPod = total; total < 0 {
		s.TotalPerPod = s.TargetPerPod
	}
	return s, nil
}

// expectation is the checked part of a Decision; nil fields are not
// checked.
type expectation struct {
	pods, ebc                  *int32
	panic, activator, scaledTo *bool
}

func (e expectation) check(got Decision) []string {
	var problems []string
	if e.pods != nil && got.DesiredPods != *e.pods {
		problems = append(problems, fmt.Sprintf("pods = %d, want %d", got.DesiredPods, *e.pods))
	}
	if e.ebc != nil && got.ExcessBurstCapacity != *e.ebc {
		problems = append(problems, fmt.Sprintf("ebc = %d, want %d", got.ExcessBurstCapacity, *e.ebc))
	}
	if e.panic != nil && got.Panicking != *e.panic {
		problems = append(problems, fmt.Sprintf("panic = %t, want %t", got.Panicking, *e.panic))
	}
	if e.activator != nil && got.ActivatorInPath() != *e.activator {
		problems = append(problems, fmt.Sprintf("activator in path = %t, want %t", got.ActivatorInPath(), *e.activator))
	}
	if e.scaledTo != nil && got.ScalingToZero != *e.scaledTo {
		problems = append(problems, fmt.Sprintf("scaling to zero = %t, want %t", got.ScalingToZero, *e.scaledTo))
	}
	return problems
}

func parseStep(fields []string) (time.Duration, Load, expectation, error) {
	var load Load
	var want expectation
	if len(fields) == 0 {
		return 0, load, want, fmt.Errorf("at needs a time")
	}
	at, err := time.ParseDuration(fields[0])
	if err != nil {
		return 0, load, want, err
	}
	expecting := false
	for _, kv := range fields[1:] {
		if kv == "=>" {
			expecting = true
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return 0, load, want, fmt.Errorf("%q is not key=value", kv)
		}
		var err error
		switch {
		case !expecting && k == "stable":
			load.Stable, err = strconv.ParseFloat(v, 64)
		case !expecting && k == "panic":
			load.Panic, err = strconv.ParseFloat(v, 64)
		case !expecting && k == "ready":
			load.ReadyPods, err = parseInt32(v)
		case !expecting && k == "waiting":
			load.Waiting, err = parseInt32(v)
		case expecting && k == "pods":
			want.pods, err = ptrInt32(v)
		case expecting && k == "ebc":
			want.ebc, err = ptrInt32(v)
		case expecting && k == "panic":
			want.panic, err = ptrYes(v)
		case expecting && k == "activator":
			want.activator, err = ptrYes(v)
		case expecting && k == "zero":
			want.scaledTo, err = ptrYes(v)
		default:
			return 0, load, want, fmt.Errorf("unknown key %q %s =>", k, map[bool]string{true: "after", false: "before"}[expecting])
		}
		if err != nil {
			return 0, load, want, fmt.Errorf("%s: %w", kv, err)
		}
	}
	if !expecting {
		return 0, load, want, fmt.Errorf("no => and expectations")
	}
	return at, load, want, nil
}

func parseInt32(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	return int32(n), err
}

func ptrInt32(v string) (*int32, error) {
	n, err := parseInt32(v)
	return &n, err
}

func ptrYes(v string) (*bool, error) {
	switch v {
	case "yes":
		b := true
		return &b, nil
	case "no":
		b := false
		return &b, nil
	}
	return nil, fmt.Errorf("want yes or no, not %q", v)
}
