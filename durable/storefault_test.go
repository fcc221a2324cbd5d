package durable_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

var errBlip = errors.New("database is locked (simulated)")

// faultStore fails the operations fail says to fail, with errBlip.
type faultStore struct {
	store.Store
	mu   sync.Mutex
	fail func(op, id string) bool
}

func (f *faultStore) failing(op, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail != nil && f.fail(op, id)
}

func (f *faultStore) RecordStep(ctx context.Context, p store.StepParams) error {
	if f.failing("RecordStep", p.Step.Name) {
		return errBlip
	}
	return f.Store.RecordStep(ctx, p)
}

func (f *faultStore) SetOutcome(ctx context.Context, p store.OutcomeParams) (bool, error) {
	if f.failing("SetOutcome", p.WorkflowID) {
		return false, errBlip
	}
	return f.Store.SetOutcome(ctx, p)
}

func (f *faultStore) RecoverWorkflow(ctx context.Context, p store.RecoverParams) (store.Workflow, error) {
	if f.failing("RecoverWorkflow", p.WorkflowID) {
		return store.Workflow{}, errBlip
	}
	return f.Store.RecoverWorkflow(ctx, p)
}

// once fails op on id the first time only.
func once(op, id string) func(string, string) bool {
	done := false
	return func(o, i string) bool {
		if o == op && i == id && !done {
			done = true
			return true
		}
		return false
	}
}

func TestADatabaseErrorIsNotAnOutcome(t *testing.T) {
	for _, c := range []struct{ name, op, id string }{
		{"a step's record fails once", "RecordStep", "s2"},
		{"the outcome's record fails once", "SetOutcome", "w"},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			v := setup(t)
			fs := &faultStore{Store: v.open(), fail: once(c.op, c.id)}
			e := v.engine(func(cfg *durable.Config) { cfg.Store = fs })
			var calls counter
			wf := register(t, e, "five", fiveSteps(&calls))
			launch(t, e)
			got, err := wf.Run(context.Background(), "x", durable.WithID("w"))
			is.NoErr(err)                                           // the blip is not the workflow's error
			is.Equal(got, "x+s1+s2+s3+s4+s5")                       // it ran to its end
			is.Equal(v.workflow("w").Status, store.StatusSuccess)   // never ERROR
			is.Equal(calls.get("s1"), 1)                            // the replay did not rerun recorded steps
			is.True(strings.Contains(v.log.String(), "runs again")) // and said why it ran again
		})
	}
}

func TestRecoveryGoesPastAWorkflowItCannotAdopt(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	v.orphan("broken", "five", `"a"`)
	v.orphan("fine", "five", `"b"`)
	fs := &faultStore{Store: v.open(), fail: func(op, id string) bool { return op == "RecoverWorkflow" && id == "broken" }}
	e := v.engine(func(cfg *durable.Config) { cfg.Store = fs })
	var calls counter
	register(t, e, "five", fiveSteps(&calls))
	err := e.Launch(context.Background())
	is.True(errors.Is(err, errBlip))                 // Launch reports the one it could not adopt
	is.True(strings.Contains(err.Error(), "broken")) // by its ID
	h, herr := durable.Retrieve[string](context.Background(), e, "fine")
	is.NoErr(herr)
	got, herr := h.Result(context.Background())
	is.NoErr(herr)
	is.Equal(got, "b+s1+s2+s3+s4+s5")                          // the next one was adopted all the same
	is.Equal(v.workflow("broken").Status, store.StatusPending) // the broken one is left as it was
}

func TestShutdownPastItsDeadlineStillReleasesEverything(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	stuck := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	wf := register(t, e, "stubborn", func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "ignores-ctx", func(ctx context.Context) (int, error) {
			close(stuck)
			<-release // does not honour ctx
			return 1, nil
		})
	})
	launch(t, e)
	_, err := wf.Start(context.Background(), 0, durable.WithID("s"))
	is.NoErr(err)
	<-stuck
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = e.Shutdown(ctx)
	is.True(errors.Is(err, context.DeadlineExceeded)) // it says it gave up waiting
	is.Equal(e.Shutdown(context.Background()), err)   // a second call gives the same answer

	_, gerr := e.Store().GetWorkflow(context.Background(), "s")
	is.True(errors.Is(gerr, store.ErrClosed)) // the store it opened is closed

	// Its instance is stopped: another engine adopts the workflow at once.
	e2 := v.engine()
	wf2 := register(t, e2, "stubborn", func(ctx context.Context, _ int) (int, error) { return 2, nil })
	launch(t, e2)
	h, err := wf2.Retrieve(context.Background(), "s")
	is.NoErr(err)
	got, err := h.Result(context.Background())
	is.NoErr(err)
	is.Equal(got, 2)
}

// lostClaims claims for real, then reports the claim's outcome as
// unknown, as a connection lost during its commit does.
type lostClaims struct {
	store.Store
	left atomic.Int64 // claims still to lose
}

func (l *lostClaims) Claim(ctx context.Context, p store.ClaimParams) ([]store.Workflow, error) {
	wfs, err := l.Store.Claim(ctx, p)
	if err == nil && len(wfs) > 0 && l.left.Add(-1) >= 0 {
		return nil, fmt.Errorf("claim: %w", store.ErrOutcomeUnknown)
	}
	return wfs, err
}

func TestAClaimWithAnUnknownOutcomeStrandsNothing(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ls := &lostClaims{Store: v.open()}
	ls.left.Store(1)
	e := v.engine(func(c *durable.Config) { c.Store = ls })
	var calls counter
	wf := register(t, e, "job", func(ctx context.Context, n int) (int, error) {
		calls.inc("job")
		return n * 2, nil
	})
	registerQueue(t, e, queue.Queue{Name: "q", GlobalConcurrency: 2})
	launch(t, e)
	var handles []*durable.Handle[int]
	for i := range 4 {
		h, err := wf.Start(context.Background(), i, durable.WithQueue("q"))
		is.NoErr(err)
		handles = append(handles, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, h := range handles {
		got, err := h.Result(ctx)
		is.NoErr(err) // claimed, but lost by the engine: put back and run, not left holding its slot
		is.Equal(got, i*2)
	}
	is.Equal(calls.get("job"), 4) // each ran once
}
