package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// debounced registers a "target" workflow that counts its runs and
// returns its input, and a debouncer of it.
func debounced(t *testing.T, e *durable.Engine, calls *counter, period time.Duration, opts ...durable.DebounceOption) *durable.Debouncer[string, string] {
	t.Helper()
	wf := register(t, e, "target", func(ctx context.Context, in string) (string, error) {
		calls.inc(in)
		calls.inc("runs")
		return in, nil
	})
	d, err := durable.NewDebouncer(e, wf, period, opts...)
	if err != nil {
		t.Fatalf("new debouncer: %v", err)
	}
	return d
}

// targets lists the target workflows recorded.
func targets(t *testing.T, e *durable.Engine) []durable.WorkflowStatus {
	t.Helper()
	page, err := e.ListWorkflows(context.Background(), durable.ListQuery{Name: "target", LoadInput: true})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return page.Workflows
}

func TestDebounceBurstStartsOneWorkflowWithTheLastInput(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e := v.engine()
	d := debounced(t, e, &calls, time.Second)
	launch(t, e)

	var first *durable.DebounceHandle[string]
	for i := range 50 {
		h, err := d.Debounce(ctx, "k", fmt.Sprint("in", i))
		is.NoErr(err)
		if first == nil {
			first = h
		}
		is.Equal(h.ID(), first.ID()) // every call of the burst names one workflow
	}
	out, err := first.Result(ctx)
	is.NoErr(err)
	is.Equal(out, "in49") // the last input wins
	wfs := targets(t, e)
	is.Equal(len(wfs), 1) // one workflow for the burst
	is.Equal(wfs[0].ID, first.ID())
	is.Equal(calls.get("runs"), 1) // run once
}

func TestDebounceCallsSpacedWiderThanThePeriodStartOneEach(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e := v.engine()
	d := debounced(t, e, &calls, 20*time.Millisecond)
	launch(t, e)

	var ids []string
	for i := range 3 {
		in := fmt.Sprint("in", i)
		h, err := d.Debounce(ctx, "k", in)
		is.NoErr(err)
		out, err := h.Result(ctx) // so the next call comes after the period
		is.NoErr(err)
		is.Equal(out, in) // each call's own input
		ids = append(ids, h.ID())
	}
	is.True(ids[0] != ids[1] && ids[1] != ids[2]) // one workflow per call
	is.Equal(len(targets(t, e)), 3)
	is.Equal(calls.get("runs"), 3)

	// Another key is debounced on its own.
	h, err := d.Debounce(ctx, "other", "x")
	is.NoErr(err)
	out, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(out, "x")
}

func TestDebounceTimeoutBoundsTheWait(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e := v.engine()
	d := debounced(t, e, &calls, time.Second, durable.WithDebounceTimeout(1500*time.Millisecond))
	launch(t, e)

	// Calls every 10ms, far closer than the period: only the bound lets
	// the first workflow start while they keep coming.
	first, err := d.Debounce(ctx, "k", "in0")
	is.NoErr(err)
	start := time.Now()
	var later *durable.DebounceHandle[string]
	for i := 1; later == nil; i++ {
		time.Sleep(10 * time.Millisecond) // the pace of the calls
		h, err := d.Debounce(ctx, "k", fmt.Sprint("in", i))
		is.NoErr(err)
		if h.ID() != first.ID() {
			later = h
		}
	}
	is.True(time.Since(start) >= 1400*time.Millisecond) // not before the bound
	out, err := first.Result(ctx)
	is.NoErr(err)
	is.True(out != "in0") // still debounced: a later input won
}

// TestDebounceCrashStartsTheWorkflowOnce crashes the debouncer's engine
// after it created the target workflow and before it recorded having
// started it; the engine adopting the debouncer starts the same one.
func TestDebounceCrashStartsTheWorkflowOnce(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e1 := v.crashingAt("target")                // the debouncer's step starting the target
	d1 := debounced(t, e1, &calls, time.Second) // long enough for "b" to be in the burst
	launch(t, e1)
	h, err := d1.Debounce(ctx, "k", "a")
	is.NoErr(err)
	h2, err := d1.Debounce(ctx, "k", "b")
	is.NoErr(err)
	is.Equal(h2.ID(), h.ID())
	<-v.crashes[e1].crashed
	is.NoErr(e1.Shutdown(ctx))
	is.Equal(calls.get("runs"), 0) // not started before the crash

	e2 := v.engine()
	debounced(t, e2, &calls, 20*time.Millisecond)
	launch(t, e2)
	out, err := waitDone(t, e2, h.ID())
	is.NoErr(err)
	is.Equal(out, "b")                // the last input
	is.Equal(len(targets(t, e2)), 1)  // one workflow
	is.Equal(calls.get("runs"), 1)    // run once
	is.Equal(len(v.steps(h.ID())), 0) // (it has no steps of its own)
}

func TestDebounceTwoEnginesStartOneWorkflow(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e1, e2 := v.engine(), v.engine()
	d1 := debounced(t, e1, &calls, time.Second)
	d2 := debounced(t, e2, &calls, time.Second)
	launch(t, e1)
	launch(t, e2)

	const n = 20
	hs := make([]*durable.DebounceHandle[string], n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		d := d1
		if i%2 == 1 {
			d = d2
		}
		wg.Go(func() {
			hs[i], errs[i] = d.Debounce(ctx, "k", fmt.Sprint("in", i))
		})
	}
	wg.Wait()
	for i := range n {
		is.NoErr(errs[i])
		is.Equal(hs[i].ID(), hs[0].ID()) // both engines name the same workflow
	}
	out, err := hs[1].Result(ctx) // from e2, started by either
	is.NoErr(err)
	is.True(len(out) > 2 && out[:2] == "in") // one of the inputs
	is.Equal(len(targets(t, e1)), 1)         // started once, by one engine
	is.Equal(calls.get("runs"), 1)
}

func TestDebounceBadInputRecordsNothing(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	wf := register(t, e, "target", func(ctx context.Context, in any) (string, error) { return "", nil })

	for _, c := range []struct {
		period time.Duration
		opts   []durable.DebounceOption
	}{
		{0, nil},
		{-time.Second, nil},
		{time.Second, []durable.DebounceOption{durable.WithDebounceTimeout(time.Second - 1)}},
		{time.Second, []durable.DebounceOption{durable.WithDebounceTimeout(0)}},
	} {
		_, err := durable.NewDebouncer(e, wf, c.period, c.opts...)
		is.True(errors.Is(err, durable.ErrInvalidDebounce)) // refused
	}
	_, err := durable.NewDebouncer[string, string](e, nil, time.Second)
	is.True(errors.Is(err, durable.ErrInvalidDebounce)) // no workflow

	// Nothing was registered by the refusals: a good one goes through.
	d, err := durable.NewDebouncer(e, wf, time.Second, durable.WithDebounceTimeout(time.Second))
	is.NoErr(err)
	_, err = durable.NewDebouncer(e, wf, time.Second)
	is.True(errors.Is(err, durable.ErrDuplicateName)) // one debouncer per workflow
	launch(t, e)
	_, err = durable.NewDebouncer(e, wf, time.Second)
	is.True(err != nil) // after Launch

	_, err = d.Debounce(ctx, "", "x")
	is.True(errors.Is(err, durable.ErrInvalidDebounce)) // empty key
	_, err = d.Debounce(ctx, "k", make(chan int))
	is.True(errors.Is(err, durable.ErrEncode)) // input that cannot be encoded

	page, err := e.ListWorkflows(ctx, durable.ListQuery{})
	is.NoErr(err)
	is.Equal(len(page.Workflows), 0) // nothing recorded
}

// TestDebounceInputTheDebouncerMissedStartsANewBurst sends an input to a
// debouncer that has stopped waiting but not ended (its engine crashed
// while starting the target, and still holds it): the input is not lost,
// and starts a workflow of its own once that debouncer ends.
func TestDebounceInputTheDebouncerMissedStartsANewBurst(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e1 := v.crashingAt("target")
	d1 := debounced(t, e1, &calls, 20*time.Millisecond)
	launch(t, e1)
	h1, err := d1.Debounce(ctx, "k", "a")
	is.NoErr(err)
	<-v.crashes[e1].crashed // the debouncer is stuck, holding the key

	sent := &sendSignal{Store: v.open(), sent: make(chan struct{}, 1)}
	e2 := v.engine(func(c *durable.Config) { c.Store, c.HeartbeatInterval = sent, 20*time.Millisecond })
	d2 := debounced(t, e2, &calls, 20*time.Millisecond)
	launch(t, e2)
	type result struct {
		h   *durable.DebounceHandle[string]
		err error
	}
	late := make(chan result, 1)
	go func() {
		h, err := d2.Debounce(ctx, "k", "b")
		late <- result{h, err}
	}()
	<-sent.sent // "b" went to the stuck debouncer
	is.NoErr(e1.Shutdown(ctx))
	r := <-late // e2 adopted the debouncer, which ended without taking "b"
	is.NoErr(r.err)
	is.True(r.h.ID() != h1.ID()) // a new burst

	out, err := waitDone(t, e2, h1.ID())
	is.NoErr(err)
	is.Equal(out, "a") // the first burst, once
	out, err = r.h.Result(ctx)
	is.NoErr(err)
	is.Equal(out, "b") // the missed input, not lost
	is.Equal(calls.get("runs"), 2)
	is.Equal(len(targets(t, e2)), 2)
}

func TestDebounceFromAStep(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e := v.engine()
	d := debounced(t, e, &calls, 20*time.Millisecond)
	caller := register(t, e, "caller", func(ctx context.Context, in string) (string, error) {
		return durable.Step(ctx, "debounce", func(ctx context.Context) (string, error) {
			h, err := d.Debounce(ctx, "k", in)
			if err != nil {
				return "", err
			}
			return h.ID(), nil
		})
	})
	launch(t, e)
	id, err := caller.Run(ctx, "x")
	is.NoErr(err)
	h, err := d.Retrieve(ctx, id)
	is.NoErr(err)
	out, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(out, "x")
	_, err = d.Retrieve(ctx, "nobody")
	is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // named by no Debounce
	wfs := targets(t, e)
	is.Equal(len(wfs), 1)
	is.Equal(wfs[0].ParentID, "") // not a child of the caller
}

func TestDebounceCancelledBurstStartsNothing(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls counter
	e := v.engine()
	d := debounced(t, e, &calls, time.Hour)
	launch(t, e)
	h, err := d.Debounce(ctx, "k", "a")
	is.NoErr(err)
	is.NoErr(e.Cancel(ctx, h.ID()+"-debouncer"))
	_, err = h.Result(ctx)
	is.True(errors.Is(err, durable.ErrWorkflowCancelled)) // the burst will never run
	is.Equal(len(targets(t, e)), 0)

	h2, err := d.Debounce(ctx, "k", "b") // the key is free again
	is.NoErr(err)
	is.True(h2.ID() != h.ID())
}

// sendSignal signals each message sent through it, once it is committed.
type sendSignal struct {
	store.Store
	sent chan struct{}
}

func (s *sendSignal) Send(ctx context.Context, p store.SendParams) error {
	err := s.Store.Send(ctx, p)
	if err == nil {
		select {
		case s.sent <- struct{}{}:
		default:
		}
	}
	return err
}
