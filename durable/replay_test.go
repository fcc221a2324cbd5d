package durable_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// A replay is the first run: whatever a workflow sees from its steps,
// children and messages — values and errors — it sees the same after a
// crash. Each test here records what the workflow saw on its first run,
// crashes it after a chosen write, recovers it in a fresh engine, and
// compares.

// seen collects what each run of a workflow observed, by run.
type seen struct {
	mu   sync.Mutex
	runs [][]string
}

func (s *seen) newRun() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, nil)
}

func (s *seen) add(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[len(s.runs)-1] = append(s.runs[len(s.runs)-1], fmt.Sprintf(format, args...))
}

func (s *seen) get() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// crashAndRecover runs workflow name (made by reg on each engine) with
// input until it would record step crashAt, crashes there, then recovers
// it in a fresh engine and returns its result there.
func crashAndRecover[In, Out any](t *testing.T, v *env, crashAt string, name string, in In,
	reg func(e *durable.Engine) *durable.Workflow[In, Out], prepare ...func(e *durable.Engine)) (Out, error) {
	t.Helper()
	e1 := v.crashingAt(crashAt)
	for _, p := range prepare {
		p(e1)
	}
	w1 := reg(e1)
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := w1.Run(context.Background(), in, durable.WithID(name)); return err })
	if !errors.Is(err, durable.ErrShutdown) {
		t.Fatalf("first run: want the crash to interrupt it, got %v", err)
	}
	if st := v.workflow(name).Status; st != store.StatusPending {
		t.Fatalf("after the crash %s is %s, want PENDING", name, st)
	}
	e2 := v.engine()
	for _, p := range prepare {
		p(e2)
	}
	reg(e2)
	launch(t, e2)
	h, err := durable.Retrieve[Out](context.Background(), e2, name)
	if err != nil {
		t.Fatal(err)
	}
	return h.Result(context.Background())
}

var errDeclined = errors.New("card declined")

// CardError is a typed error whose fields a workflow reads.
type CardError struct {
	Code  int
	Retry bool
}

func (e *CardError) Error() string { return fmt.Sprintf("card error %d", e.Code) }

func TestErrorIdentitySurvivesReplay(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var obs seen
	errUnknown := errors.New("not registered")
	charge := func(e *durable.Engine) *durable.Workflow[int, string] {
		return register(t, e, "charge", func(ctx context.Context, _ int) (string, error) {
			obs.newRun()
			_, err := durable.Step(ctx, "charge", func(ctx context.Context) (int, error) {
				return 0, fmt.Errorf("charging: %w", errors.Join(errDeclined, &CardError{Code: 51, Retry: true}, errUnknown))
			})
			var ce *CardError
			obs.add("declined=%v typed=%v code=%d retry=%v unknown=%v msg=%q", errors.Is(err, errDeclined),
				errors.As(err, &ce), codeOf(ce), ce != nil && ce.Retry, errors.Is(err, errUnknown), err.Error())
			branch := "charged"
			if errors.Is(err, errDeclined) {
				branch = "declined"
			}
			// The crash comes here: the next write is refused.
			return durable.Step(ctx, "notify-"+branch, func(ctx context.Context) (string, error) { return branch, nil })
		})
	}
	registerErrs := func(e *durable.Engine) {
		is.NoErr(durable.RegisterError(e, "shop.declined", errDeclined))
		is.NoErr(durable.RegisterErrorType[*CardError](e, "shop.CardError"))
	}
	got, err := crashAndRecover(t, v, "notify-declined", "c1", 0, charge, registerErrs)
	is.NoErr(err)
	is.Equal(got, "declined") // the same branch after the crash
	runs := obs.get()
	is.Equal(len(runs), 2)
	is.Equal(runs[0], runs[1]) // the first run and the replay saw the same error
	is.Equal(runs[0][0], `declined=true typed=true code=51 retry=true unknown=false msg="charging: card declined\ncard error 51\nnot registered"`)
}

func codeOf(ce *CardError) int {
	if ce == nil {
		return 0
	}
	return ce.Code
}

func TestEngineErrorsSurviveReplay(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var obs seen
	parent := func(e *durable.Engine) *durable.Workflow[int, string] {
		failing := register(t, e, "failing", func(ctx context.Context, _ int) (int, error) {
			return durable.Step(ctx, "flaky", func(ctx context.Context) (int, error) { return 0, errors.New("down") },
				durable.WithRetries(durable.RetryPolicy{MaxAttempts: 2, Interval: time.Millisecond}))
		})
		slow := register(t, e, "slow", func(ctx context.Context, _ int) (int, error) {
			return 0, durable.Sleep(ctx, time.Hour)
		})
		return register(t, e, "parent", func(ctx context.Context, _ int) (string, error) {
			obs.newRun()
			_, err := failing.Run(ctx, 0)
			var se *durable.StepError
			obs.add("step error: as=%v attempts=%d", errors.As(err, &se), attemptsOf(se))
			_, err = slow.Run(ctx, 0, durable.WithTimeout(time.Millisecond))
			obs.add("deadline: cancelled=%v deadline=%v", errors.Is(err, durable.ErrWorkflowCancelled), errors.Is(err, durable.ErrDeadlineExceeded))
			_, err = durable.Recv[string](ctx, "none", time.Millisecond)
			obs.add("recv: timeout=%v", errors.Is(err, durable.ErrTimeout))
			return durable.Step(ctx, "last", func(ctx context.Context) (string, error) { return "done", nil })
		})
	}
	got, err := crashAndRecover(t, v, "last", "p", 0, parent)
	is.NoErr(err)
	is.Equal(got, "done")
	runs := obs.get()
	is.Equal(len(runs), 2)
	is.Equal(runs[0], []string{"step error: as=true attempts=2", "deadline: cancelled=true deadline=true", "recv: timeout=true"})
	is.Equal(runs[1], runs[0]) // the engine's own errors keep their identity
}

func attemptsOf(se *durable.StepError) int {
	if se == nil {
		return -1
	}
	return len(se.Attempts)
}

// Odd is a value JSON does not give back as it was.
type Odd struct {
	When    any            // a time.Time: read back as a string
	Counts  map[string]any // numbers: read back as float64
	private int            // not encoded at all
}

func TestValuesAreTheSameOnTheFirstRunAndAReplay(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var obs seen
	wf := func(e *durable.Engine) *durable.Workflow[int, string] {
		return register(t, e, "odd", func(ctx context.Context, _ int) (string, error) {
			obs.newRun()
			odd, err := durable.Step(ctx, "odd", func(ctx context.Context) (Odd, error) {
				return Odd{When: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Counts: map[string]any{"n": 3}, private: 7}, nil
			})
			if err != nil {
				return "", err
			}
			obs.add("%T %v", odd.When, odd.When)
			obs.add("%T", odd.Counts["n"])
			obs.add("%d", odd.private)
			return durable.Step(ctx, "next", func(ctx context.Context) (string, error) { return "ok", nil })
		})
	}
	got, err := crashAndRecover(t, v, "next", "o", 0, wf)
	is.NoErr(err)
	is.Equal(got, "ok")
	runs := obs.get()
	is.Equal(len(runs), 2)
	is.Equal(runs[0], []string{"string 2026-11-30T12:00:00Z", "float64", "0"}) // what the codec gives back
	is.Equal(runs[1], runs[0])                                                 // on both runs
}

func TestResultIsTheSameWhenAskedLater(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	boom := &CardError{Code: 7}
	is.NoErr(durable.RegisterErrorType[*CardError](e, "shop.CardError"))
	wf := register(t, e, "fails", func(ctx context.Context, _ int) (map[string]any, error) {
		return nil, fmt.Errorf("wrapped: %w", boom)
	})
	ok := register(t, e, "ok", func(ctx context.Context, _ int) (map[string]any, error) {
		return map[string]any{"n": 1}, nil
	})
	launch(t, e)
	h, err := wf.Start(context.Background(), 0, durable.WithID("f"))
	is.NoErr(err)
	_, early := h.Result(context.Background())
	h2, err := ok.Start(context.Background(), 0, durable.WithID("s"))
	is.NoErr(err)
	earlyOut, err := h2.Result(context.Background())
	is.NoErr(err)
	is.NoErr(e.Shutdown(context.Background()))

	e2 := v.engine()
	is.NoErr(durable.RegisterErrorType[*CardError](e2, "shop.CardError"))
	launch(t, e2)
	late, err := durable.Retrieve[map[string]any](context.Background(), e2, "f")
	is.NoErr(err)
	_, lateErr := late.Result(context.Background())
	var a, b *CardError
	is.True(errors.As(early, &a))            // typed as soon as it ends
	is.True(errors.As(lateErr, &b))          // and when read back later, elsewhere
	is.Equal(*a, *b)                         // with the same fields
	is.Equal(early.Error(), lateErr.Error()) // and message
	is.Equal(reflect.TypeOf(early), reflect.TypeOf(lateErr))
	h3, err := durable.Retrieve[map[string]any](context.Background(), e2, "s")
	is.NoErr(err)
	lateOut, err := h3.Result(context.Background())
	is.NoErr(err)
	is.Equal(earlyOut, lateOut) // the output too: map[n:1] as float64 both times
	is.Equal(fmt.Sprintf("%T", earlyOut["n"]), "float64")
}
