package durable

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dboslite/dboslite/store"
)

// RetryPolicy says how often a failing step is tried again.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included. 0 or 1 means no
	// retries.
	MaxAttempts int
	// Interval is the wait after the first failed attempt. Defaults to 100ms.
	Interval time.Duration
	// BackoffRate multiplies the wait after each further failure. Defaults
	// to 2.
	BackoffRate float64
	// MaxInterval caps the wait. Defaults to 1h.
	MaxInterval time.Duration
	// ShouldRetry, if set, is asked after each failure; false stops the
	// retries and the step returns that error as it is.
	ShouldRetry func(error) bool
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	if p.Interval <= 0 {
		p.Interval = 100 * time.Millisecond
	}
	if p.BackoffRate < 1 {
		p.BackoffRate = 2
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = time.Hour
	}
	return p
}

// delay is the wait after failed attempt i, counting from 0.
func (p RetryPolicy) delay(i int) time.Duration {
	d := float64(p.Interval) * math.Pow(p.BackoffRate, float64(i))
	if d > float64(p.MaxInterval) {
		return p.MaxInterval
	}
	return time.Duration(d)
}

// StepOption configures one step call.
type StepOption func(*RetryPolicy)

// WithRetries sets the step's retry policy.
func WithRetries(p RetryPolicy) StepOption { return func(r *RetryPolicy) { *r = p } }

// Step runs fn as step name of the workflow running in ctx and records its
// result, or its final error, in the system database. When the workflow is
// replayed after a restart, a recorded step returns its recorded result
// without running fn again. The name must be the same on every run of the
// workflow: a replay that calls a different name at the same step number
// gets a *DeterminismError.
//
// A step that fails every attempt its RetryPolicy allows returns a
// *StepError that wraps each attempt's error; with no retries, fn's error
// is returned as it is. A panic in fn is caught and counts as a failed
// attempt (*PanicError). fn's context is cancelled when the engine shuts
// down; an error that follows from that is not recorded, and the step runs
// again at the next Launch.
//
// Outside a workflow Step simply calls fn; inside another step it calls fn
// without recording it (only the outer step is recorded).
func Step[T any](ctx context.Context, name string, fn func(ctx context.Context) (T, error), opts ...StepOption) (T, error) {
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		return fn(ctx)
	}
	var zero T
	n, rec, ok, err := st.next(ctx)
	if err != nil {
		return zero, err
	}
	if ok {
		if err := st.check(n, rec, name); err != nil {
			return zero, err
		}
		if rec.Error != nil {
			return zero, decodeError(rec.Error)
		}
		return decode[T](st.eng, fmt.Sprintf("step %d (%s) of %s", n, name, st.id), rec.Output)
	}
	var policy RetryPolicy
	for _, o := range opts {
		o(&policy)
	}
	started := st.eng.now()
	value, err := attempt(context.WithValue(ctx, stepKey{}, n), st, n, name, fn, policy.withDefaults())
	if err != nil && ctx.Err() != nil {
		return zero, err // interrupted by shutdown or cancellation: run again later
	}
	step := store.Step{WorkflowID: st.id, StepID: n, Name: name, StartedAt: started}
	if err == nil {
		if step.Output, err = st.eng.encode(fmt.Sprintf("output of step %q", name), value); err != nil {
			value = zero
		}
	}
	step.Error = encodeError(err)
	step.CompletedAt = st.eng.now()
	if rerr := st.eng.store.RecordStep(context.WithoutCancel(ctx), step); rerr != nil {
		if errors.Is(rerr, store.ErrConflict) {
			return recordedStep[T](ctx, st, n, name) // another run recorded it first: its record wins
		}
		return zero, st.eng.writeErr(st.id, rerr)
	}
	return value, err
}

// attempt calls fn until it succeeds or the policy gives up.
func attempt[T any](ctx context.Context, st *wfState, n int, name string, fn func(context.Context) (T, error), p RetryPolicy) (T, error) {
	var errs []error
	for i := 0; ; i++ {
		v, err := call(func() (T, error) { return fn(ctx) })
		if err == nil {
			return v, nil
		}
		if p.ShouldRetry != nil && !p.ShouldRetry(err) {
			return v, err
		}
		errs = append(errs, err)
		if p.MaxAttempts == 1 {
			return v, err
		}
		if i+1 >= p.MaxAttempts || ctx.Err() != nil {
			return v, &StepError{WorkflowID: st.id, StepID: n, StepName: name, Attempts: errs}
		}
		t := time.NewTimer(p.delay(i))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, &StepError{WorkflowID: st.id, StepID: n, StepName: name, Attempts: append(errs, ctx.Err())}
		}
	}
}

// recordedStep reads back step n as another run recorded it.
func recordedStep[T any](ctx context.Context, st *wfState, n int, name string) (T, error) {
	var zero T
	steps, err := st.eng.store.Steps(context.WithoutCancel(ctx), st.id)
	if err != nil {
		return zero, err
	}
	for _, s := range steps {
		if s.StepID != n {
			continue
		}
		if err := st.check(n, s, name); err != nil {
			return zero, err
		}
		if s.Error != nil {
			return zero, decodeError(s.Error)
		}
		return decode[T](st.eng, fmt.Sprintf("step %d (%s) of %s", n, name, st.id), s.Output)
	}
	return zero, fmt.Errorf("durable: step %d of %s: conflict reported but no record found", n, st.id)
}
