package durabletest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// Setup registers the workflow under test on e, with whatever it needs
// (other workflows, queues, errors), and returns it. A crash run calls it
// once per engine it makes — the process that crashes, then the one that
// recovers — as each run of a program registers its workflows.
type Setup[In, Out any] func(e *durable.Engine) (*durable.Workflow[In, Out], error)

// StepRuns says how often one step of a workflow ran.
type StepRuns struct {
	ID   int    // the step number, from 1
	Name string // the step's name, as recorded
	// Runs counts the times the step's outcome was offered for recording,
	// by the process that crashed and then the one that recovered: each
	// time, the step function ran (through all its retries). A recorded
	// step that is replayed does not run.
	Runs int
}

// Report is what a crash run saw.
type Report[Out any] struct {
	WorkflowID string
	// Crash is the step the process died at: that step's function ran,
	// but neither its outcome nor anything after it was recorded.
	Crash  int
	Output Out        // what the recovered workflow returned
	Steps  []StepRuns // the workflow's steps, by number
}

// Repeated returns the steps that ran more than once: the ones whose
// side effects must be idempotent.
func (r *Report[Out]) Repeated() []StepRuns {
	var rs []StepRuns
	for _, s := range r.Steps {
		if s.Runs > 1 {
			rs = append(rs, s)
		}
	}
	return rs
}

// Runs returns how often the steps named name ran, all together.
func (r *Report[Out]) Runs(name string) int {
	n := 0
	for _, s := range r.Steps {
		if s.Name == name {
			n += s.Runs
		}
	}
	return n
}

// CrashPointError is returned by CrashAt for a crash point the workflow
// does not reach: below 1, or past its last step. Then the workflow's
// outcome is not recorded and nothing is recovered.
type CrashPointError struct {
	Step  int // the crash point asked for
	Steps int // the last step the workflow ran; 0 if it was not run
}

// Error says which crash point the workflow did not reach.
func (e *CrashPointError) Error() string {
	if e.Step < 1 {
		return fmt.Sprintf("durabletest: crash point %d: steps are numbered from 1", e.Step)
	}
	return fmt.Sprintf("durabletest: crash point %d: the workflow ended without recording step %d; its last step is %d",
		e.Step, e.Step, e.Steps)
}

// CrashAt runs the workflow that setup registers, with input, in a
// process that dies at step n, as a SIGKILL would: the step's function
// has run, but neither its outcome nor anything after it is recorded, the
// workflow's goroutine is gone and no outcome is recorded. Then it starts
// a new process on the same database, which recovers the workflow, and
// waits for its result. It returns the recovered workflow's error, with a
// report of which steps ran how often.
//
// Steps are numbered from 1 in the order the workflow calls them,
// counting every durable operation: Step, Sleep, Send, Recv (two: the
// message, then its deadline, which is recorded first), SetEvent, the
// start of a child, the wait for its result. A crash at an operation
// that is not a Step is a crash while the engine records it; a Recv that
// crashes has taken no message. A crash point below 1 or past the workflow's last
// step returns a *CrashPointError; the workflow's outcome is not
// recorded. Each call runs on a new temporary database (see NewEnv), with
// the workflow ID of WithWorkflowID. The test fails if a phase takes
// longer than WithTimeout allows, or if setup or a launch fails.
func CrashAt[In, Out any](t testing.TB, setup Setup[In, Out], input In, n int, opts ...Option) (*Report[Out], error) {
	t.Helper()
	o := makeOptions(opts)
	r := &Report[Out]{WorkflowID: o.id, Crash: n}
	if n < 1 {
		return r, &CrashPointError{Step: n}
	}
	v := NewEnv(t, opts...)
	defer v.shutdown()

	first := newCrashStore(v.open(), o.id, n)
	crashUntil(t, v, first, setup, input, o)
	counts := first.counted()
	if first.diedPastEnd() {
		r.Steps = merge(counts)
		return r, &CrashPointError{Step: n, Steps: last(counts)}
	}

	second := newCrashStore(v.open(), o.id, 0)
	e := v.engine(second.withWatch(), nil)
	w := register(t, setup, e)
	Launch(t, e) // adopts the workflow the crash left PENDING
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	h, err := w.Retrieve(ctx, o.id)
	if err != nil {
		t.Fatalf("durabletest: retrieve workflow %s after the crash: %v", o.id, err)
	}
	r.Output, err = h.Result(ctx)
	if ctx.Err() != nil {
		t.Fatalf("durabletest: workflow %s, recovered after a crash at step %d, did not end within %v: %v", o.id, n, o.timeout, err)
	}
	r.Steps = merge(counts, second.counted())
	return r, err
}

// crashUntil runs the workflow on an engine over cs until cs dies, then
// drops that engine.
func crashUntil[In, Out any](t testing.TB, v *Env, cs *crashStore, setup Setup[In, Out], input In, o options) {
	t.Helper()
	e := v.engine(cs.withWatch(), nil)
	w := register(t, setup, e)
	Launch(t, e)
	h, err := w.Start(context.Background(), input, durable.WithID(o.id))
	if err != nil {
		t.Fatalf("durabletest: start workflow %s: %v", o.id, err)
	}
	waiting, stopWaiting := context.WithCancel(context.Background())
	defer stopWaiting()
	ended := make(chan error, 1)
	go func() {
		_, err := h.Result(waiting)
		ended <- err
	}()
	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	select {
	case <-cs.crashed:
	case err := <-ended:
		t.Fatalf("durabletest: workflow %s ended before step %d without recording an outcome: %v", o.id, cs.at, err)
	case <-timer.C:
		t.Fatalf("durabletest: workflow %s reached neither step %d nor its end within %v", o.id, cs.at, o.timeout)
	}
	// The process is gone: what it does from here is refused. Its
	// shutdown only waits for the workflow's goroutine to go.
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	e.Shutdown(ctx)
	stopWaiting()
	<-ended
}

// CrashEveryStep runs the workflow once without a crash, then, for each
// of the steps that run recorded, crashes it there and recovers it with
// CrashAt. It fails the test unless every recovered run ends as the run
// without a crash did: with an equal output (reflect.DeepEqual) and the
// same error, or none. It returns the reports of the crash runs in order:
// the first crashed at step 1. A workflow whose output differs from run
// to run (a time, a random ID) needs CrashAt and a check of its own.
func CrashEveryStep[In, Out any](t testing.TB, setup Setup[In, Out], input In, opts ...Option) []*Report[Out] {
	t.Helper()
	want, wantErr, steps := runClean(t, setup, input, opts)
	reports := make([]*Report[Out], 0, steps)
	for n := 1; n <= steps; n++ {
		r, err := CrashAt(t, setup, input, n, opts...)
		reports = append(reports, r)
		if errText(err) != errText(wantErr) {
			t.Errorf("durabletest: crashed at step %d, the workflow returned error %q, without a crash %q", n, errText(err), errText(wantErr))
		}
		if !reflect.DeepEqual(r.Output, want) {
			t.Errorf("durabletest: crashed at step %d, the workflow returned %#v, without a crash %#v", n, r.Output, want)
		}
	}
	return reports
}

// runClean runs the workflow without a crash and returns its result and
// the number of its last step.
func runClean[In, Out any](t testing.TB, setup Setup[In, Out], input In, opts []Option) (Out, error, int) {
	t.Helper()
	o := makeOptions(opts)
	v := NewEnv(t, opts...)
	defer v.shutdown()
	cs := newCrashStore(v.open(), o.id, 0)
	e := v.engine(cs.withWatch(), nil)
	w := register(t, setup, e)
	Launch(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	out, err := w.Run(ctx, input, durable.WithID(o.id))
	if ctx.Err() != nil {
		t.Fatalf("durabletest: workflow %s did not end within %v: %v", o.id, o.timeout, err)
	}
	return out, err, last(cs.counted())
}

func register[In, Out any](t testing.TB, setup Setup[In, Out], e *durable.Engine) *durable.Workflow[In, Out] {
	t.Helper()
	w, err := setup(e)
	if err != nil {
		t.Fatalf("durabletest: setup: %v", err)
	}
	if w == nil {
		t.Fatalf("durabletest: setup returned no workflow")
	}
	return w
}

// merge adds up counts by step and returns them by step number.
func merge(counts ...map[int]StepRuns) []StepRuns {
	all := map[int]StepRuns{}
	for _, m := range counts {
		for id, r := range m {
			if a, ok := all[id]; ok {
				r.Runs += a.Runs
			}
			all[id] = r
		}
	}
	ids := slices.Sorted(maps.Keys(all))
	rs := make([]StepRuns, len(ids))
	for i, id := range ids {
		rs[i] = all[id]
	}
	return rs
}

// last returns the highest step number counted, 0 for none.
func last(counts map[int]StepRuns) int {
	n := 0
	for id := range counts {
		n = max(n, id)
	}
	return n
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
