package durable_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// An engine declared dead — its heartbeat missed the lease, or another
// engine saw its process gone — may still be running a workflow that a
// live engine has adopted. These tests run both engines in one process,
// each with its own instance, and stop each one's workflow where the test
// chooses.

// TestFencingRefusesTheWritesOfAnEngineDeclaredDead: X runs W; X is
// declared dead, Y adopts W; then X's run, which never noticed, tries to
// record what it did. The database refuses it, Y's record is the one
// kept, and both engines' waiters get Y's outcome.
func TestFencingRefusesTheWritesOfAnEngineDeclaredDead(t *testing.T) {
	t.Run("a late step result", func(t *testing.T) {
		is := is.New(t)
		v := setup(t)
		x, y := newFenced(v, "X"), newFenced(v, "Y")
		x.stepHold, y.stepHold = newHold(), newHold()
		x.launch()
		hx, err := x.wf.Start(t.Context(), 0, durable.WithID("W"))
		is.NoErr(err)
		x.stepHold.waitReached(t) // X is in W's step
		xIn := v.workflow("W").Owner
		expire(t, v, xIn) // its heartbeat is late: X is dead for the others

		y.launch()                // Y adopts W at Launch
		y.stepHold.waitReached(t) // and runs W's step
		wf := v.workflow("W")
		is.True(wf.Owner != xIn && wf.Owner != "") // W is Y's
		is.Equal(wf.RecoveryAttempts, 2)

		x.stepHold.release() // X's step returns, late
		w := x.nextWrite(t)
		is.Equal(w.what, "step 1 (work)")
		is.True(errors.Is(w.err, store.ErrNotOwner)) // X's result is refused
		is.Equal(len(v.steps("W")), 0)               // and not recorded

		y.stepHold.release()
		want := "work by Y, returned by Y"
		is.Equal(y.result(hx.ID()), want) // Y's run completes W
		got, err := hx.Result(within(t, 10*time.Second))
		is.NoErr(err)
		is.Equal(got, want) // and X's waiter gets Y's outcome, not its own
		is.Equal(stepOutputs(v.steps("W")), `work "work by Y"`)
		is.Equal(x.runs.get("work")+y.runs.get("work"), 2) // each ran the step once
		is.Equal(x.writes(), nil)                          // X tried nothing more
	})

	t.Run("a late outcome", func(t *testing.T) {
		is := is.New(t)
		v := setup(t)
		x, y := newFenced(v, "X"), newFenced(v, "Y")
		x.returnHold, y.returnHold = newHold(), newHold()
		x.launch()
		hx, err := x.wf.Start(t.Context(), 0, durable.WithID("W"))
		is.NoErr(err)
		x.returnHold.waitReached(t) // X recorded W's step and is about to return
		w := x.nextWrite(t)
		is.Equal(fmt.Sprint(w.what, " ", w.err), "step 1 (work) <nil>") // recorded while X owned W
		xIn := v.workflow("W").Owner
		is.NoErr(v.open().StopInstance(t.Context(), xIn)) // another engine on its host saw X's process gone

		y.launch()
		y.returnHold.waitReached(t) // Y adopted W, replayed its step and is about to return
		is.True(v.workflow("W").Owner != xIn)

		x.returnHold.release() // X's workflow returns, late
		w = x.nextWrite(t)
		is.Equal(w.what, "outcome SUCCESS")
		is.True(errors.Is(w.err, store.ErrNotOwner))          // X's outcome is refused
		is.Equal(v.workflow("W").Status, store.StatusPending) // and not recorded

		y.returnHold.release()
		want := "work by X, returned by Y"
		is.Equal(y.result(hx.ID()), want) // Y's outcome is recorded
		got, err := hx.Result(within(t, 10*time.Second))
		is.NoErr(err)
		is.Equal(got, want)                                     // and X's waiter gets it
		is.Equal(x.runs.get("work")+y.runs.get("work"), 1)      // Y replayed the step X recorded
		is.Equal(stepOutputs(v.steps("W")), `work "work by X"`) // which stays as X recorded it
	})
}

// TestAnEngineDeclaredDeadStopsItsRunsAndRegistersAgain: X is inside W's
// step when its instance is declared dead. At its next heartbeat X
// cancels the step, records nothing for it, registers a new instance and
// adopts W again under it.
func TestAnEngineDeclaredDeadStopsItsRunsAndRegistersAgain(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var runs counter
	inStep := make(chan struct{})
	stopped := make(chan error, 1)
	x := v.engine(func(c *durable.Config) { c.HeartbeatInterval = 20 * time.Millisecond })
	wf := register(t, x, "blocking", func(ctx context.Context, _ int) (string, error) {
		return durable.Step(ctx, "work", func(ctx context.Context) (string, error) {
			runs.inc("work")
			if runs.get("work") > 1 {
				return "second run", nil
			}
			close(inStep)
			<-ctx.Done() // nothing else ends this run: only X's engine can
			stopped <- context.Cause(ctx)
			return "", ctx.Err()
		})
	})
	launch(t, x)
	h, err := wf.Start(t.Context(), 0, durable.WithID("W"))
	is.NoErr(err)
	<-inStep
	s := v.open()
	old := v.workflow("W").Owner
	is.NoErr(s.StopInstance(t.Context(), old)) // as if its lease had run out

	select {
	case cause := <-stopped:
		t.Logf("the step was stopped: %v", cause)
	case <-time.After(10 * time.Second):
		t.Fatal("X did not stop W's step within 10s of being declared dead")
	}
	got, err := h.Result(within(t, 10*time.Second))
	is.NoErr(err)
	is.Equal(got, "second run") // W ran again, to the end
	is.Equal(runs.get("work"), 2)
	now := v.workflow("W")
	is.Equal(now.RecoveryAttempts, 2)                        // adopted once
	is.True(now.Owner != old)                                // by X's new instance
	is.Equal(stepOutputs(v.steps("W")), `work "second run"`) // the stopped step left no record
	ins, err := s.Instances(t.Context())
	is.NoErr(err)
	var live []string
	for _, in := range ins {
		live = append(live, in.ID)
	}
	is.Equal(live, []string{now.Owner})                        // X registered again; its old instance stays dead
	is.True(strings.Contains(v.log.String(), "declared dead")) // and said why it stopped W
}

// fenced is one engine of a fencing test: its workflow "fenced" runs the
// step "work", which returns "work by <name>", and returns
// "<work>, returned by <name>", each stopped at a hold if one is set; its
// store reports each write made for a run.
type fenced struct {
	t                    *testing.T
	name                 string
	eng                  *durable.Engine
	wf                   *durable.Workflow[int, string]
	watch                *writeWatch
	runs                 counter
	stepHold, returnHold *hold
}

// newFenced makes an engine that never heartbeats during a test: it
// does not notice that it was declared dead, and keeps running.
func newFenced(v *env, name string) *fenced {
	f := &fenced{t: v.t, name: name, watch: &writeWatch{Store: v.open(), writes: make(chan write, 16)}}
	f.eng = v.engine(func(c *durable.Config) {
		c.Store = f.watch
		c.HeartbeatInterval, c.InstanceLease = time.Hour, 2*time.Hour
	})
	f.wf = register(v.t, f.eng, "fenced", func(ctx context.Context, _ int) (string, error) {
		work, err := durable.Step(ctx, "work", func(context.Context) (string, error) {
			f.runs.inc("work")
			f.stepHold.pass() // deaf to its context, as a step busy elsewhere is
			return "work by " + f.name, nil
		})
		if err != nil {
			return "", err
		}
		f.returnHold.pass()
		return work + ", returned by " + f.name, nil
	})
	// Released before the engine shuts down, should the test stop early.
	v.t.Cleanup(func() { f.stepHold.release(); f.returnHold.release() })
	return f
}

func (f *fenced) launch() { launch(f.t, f.eng) }

// result waits for workflow id through this engine.
func (f *fenced) result(id string) string {
	f.t.Helper()
	h, err := f.wf.Retrieve(f.t.Context(), id)
	if err != nil {
		f.t.Fatalf("retrieve %s in %s: %v", id, f.name, err)
	}
	out, err := h.Result(within(f.t, 10*time.Second))
	if err != nil {
		f.t.Fatalf("result of %s in %s: %v", id, f.name, err)
	}
	return out
}

// nextWrite waits for the next write this engine made for a run.
func (f *fenced) nextWrite(t *testing.T) write {
	t.Helper()
	select {
	case w := <-f.watch.writes:
		return w
	case <-time.After(10 * time.Second):
		t.Fatalf("%s made no write within 10s", f.name)
		return write{}
	}
}

// writes returns the writes made and not yet taken by nextWrite.
func (f *fenced) writes() []write {
	var ws []write
	for {
		select {
		case w := <-f.watch.writes:
			ws = append(ws, w)
		default:
			return ws
		}
	}
}

// within returns a context for a wait that should end well before d.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// expire declares instance id dead as a live engine does when its
// heartbeat is older than the lease: here a lease of a millisecond,
// tried until it has run out for id.
func expire(t *testing.T, v *env, id string) {
	t.Helper()
	s := v.open()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, err := s.ExpireInstances(t.Context(), time.Millisecond)
		if err != nil {
			t.Fatalf("expire instances: %v", err)
		}
		if slices.Contains(ids, id) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s did not expire within 10s", id)
		}
		time.Sleep(time.Millisecond)
	}
}

// hold stops a workflow until the test releases it; a nil hold stops
// nothing.
type hold struct {
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newHold() *hold { return &hold{reached: make(chan struct{}, 1), open: make(chan struct{})} }

func (h *hold) pass() {
	if h == nil {
		return
	}
	select {
	case h.reached <- struct{}{}:
	default:
	}
	<-h.open
}

func (h *hold) waitReached(t *testing.T) {
	t.Helper()
	select {
	case <-h.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the workflow did not reach the hold within 10s")
	}
}

// release lets the workflow through, now and whenever it comes again.
func (h *hold) release() {
	if h != nil {
		h.once.Do(func() { close(h.open) })
	}
}

// write is a write made for a workflow's run, and its result.
type write struct {
	what string
	err  error
}

// writeWatch reports every step and outcome written through it.
type writeWatch struct {
	store.Store
	writes chan write
}

func (w *writeWatch) RecordStep(ctx context.Context, p store.StepParams) error {
	err := w.Store.RecordStep(ctx, p)
	w.writes <- write{fmt.Sprintf("step %d (%s)", p.Step.StepID, p.Step.Name), err}
	return err
}

func (w *writeWatch) SetOutcome(ctx context.Context, p store.OutcomeParams) (bool, error) {
	ok, err := w.Store.SetOutcome(ctx, p)
	w.writes <- write{"outcome " + string(p.Status), err}
	return ok, err
}

// stepOutputs describes recorded steps as "name output; …".
func stepOutputs(steps []store.Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.Name+" "+string(s.Output))
	}
	return strings.Join(parts, "; ")
}

// TestAnEngineDeclaredDeadRunsItsWorkflowAgainAfterASlowStop: as above,
// but W's step does not return at once when stopped. While W's old run
// still unwinds, the engine must not run W a second time; once the old
// run is gone, W runs again, to its end. From a queue, W goes back to
// its queue while its old run is still active here, and this engine's
// dispatcher claims it again for its new instance: launch must start the
// new run once the old one has ended, not drop the claim (which left W
// PENDING, run nowhere, holding its queue slot).
func TestAnEngineDeclaredDeadRunsItsWorkflowAgainAfterASlowStop(t *testing.T) {
	for _, c := range []struct {
		name   string
		queued bool
		// other is whether another engine, which does not serve the
		// queue, is there to put W back in it.
		other bool
	}{
		{"started directly", false, false},
		{"from a queue", true, false},
		{"from a queue, put back by another engine", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			v := setup(t)
			var runs counter
			busy := newHold()
			x := v.engine(func(c *durable.Config) { c.HeartbeatInterval = 20 * time.Millisecond })
			t.Cleanup(busy.release) // before x shuts down, should the test stop early
			wf := register(t, x, "slow", func(ctx context.Context, _ int) (string, error) {
				return durable.Step(ctx, "work", func(ctx context.Context) (string, error) {
					runs.inc("work")
					if runs.get("work") > 1 {
						return "second run", nil
					}
					busy.pass() // deaf to its context, as a step busy elsewhere is
					return "first run", ctx.Err()
				})
			})
			registerQueue(t, x, queue.Queue{Name: "q", GlobalConcurrency: 1, PollInterval: 10 * time.Millisecond})
			launch(t, x)
			var opts []durable.StartOption
			if c.queued {
				opts = append(opts, durable.WithQueue("q"))
			}
			h, err := wf.Start(t.Context(), 0, append(opts, durable.WithID("W"))...)
			is.NoErr(err)
			busy.waitReached(t)
			s := v.open()
			old := v.workflow("W").Owner
			is.NoErr(s.StopInstance(t.Context(), old)) // as if its lease had run out
			if c.other {
				y := v.engine(func(c *durable.Config) { c.ExecutorID = "other" })
				launch(t, y) // adopts W at once: puts it back in its queue
			}

			// X registers again and makes three passes of adoption while
			// W's old run is busy.
			var again store.Instance
			waitFor(t, "X to register again", func() bool {
				ins, err := s.Instances(t.Context())
				is.NoErr(err)
				for _, in := range ins {
					if in.ExecutorID == "local" && in.ID != old {
						again = in
					}
				}
				return again.ID != ""
			})
			waitPasses(t, s, again, 3)
			now := v.workflow("W")
			t.Logf("while its old run is busy, W is %s, owned by the %s instance of X", now.Status,
				map[string]string{old: "old", again.ID: "new", "": "no"}[now.Owner])
			is.Equal(runs.get("work"), 1) // the old run is the only one: W does not run twice here

			busy.release() // the old run ends; its result is refused
			got, err := h.Result(within(t, 10*time.Second))
			is.NoErr(err)               // W runs again
			is.Equal(got, "second run") // to its end
			is.Equal(runs.get("work"), 2)
			is.Equal(stepOutputs(v.steps("W")), `work "second run"`)
			is.Equal(v.workflow("W").RecoveryAttempts, 2)
		})
	}
}
