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

// StepOption configures one step call. Make one with WithRetries or
// WithStepTimeout.
type StepOption struct{ apply func(*stepOptions) }

type stepOptions struct {
	retry   RetryPolicy
	timeout time.Duration
}

func stepOpts(opts []StepOption) stepOptions {
	var o stepOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	o.retry = o.retry.withDefaults()
	return o
}

// WithRetries sets the step's retry policy.
func WithRetries(p RetryPolicy) StepOption {
	return StepOption{func(o *stepOptions) { o.retry = p }}
}

// WithStepTimeout gives each attempt of the step d to finish: its context
// is cancelled then, and an attempt that fails after it fails with an
// error matching ErrStepTimeout, which is recorded (and retried, if the
// retry policy allows) like any other. The step function must return
// when its context is done; a non-positive d means no timeout.
func WithStepTimeout(d time.Duration) StepOption {
	return StepOption{func(o *stepOptions) { o.timeout = d }}
}

// Step runs fn as step name of the workflow running in ctx and records its
// result, or its final error, in the system database. When the workflow is
// replayed after a restart, a recorded step returns its recorded result
// without running fn again. The name must be the same on every run of the
// workflow: a replay that calls a different name at the same step number
// gets a *DeterminismError.
//
// Step returns what a replay would: the result encoded and decoded again
// by the codec, and the error as read back from its record (a
// *RecordedError; see RegisterError for what errors.Is and errors.As
// find in it). So code that works on the first run works after a
// restart.
//
// A step that fails every attempt its RetryPolicy allows returns an error
// matching *StepError, which wraps each attempt's error. A panic in fn is
// caught and counts as a failed attempt (*PanicError). Whatever fn
// returns is recorded — even an error caused by a context of your own —
// unless the workflow itself is stopping (cancelled, past its deadline,
// shutting down): then nothing is recorded and the step runs again when
// the workflow does.
//
// Step must be called from the workflow function's goroutine; to run
// steps concurrently, use Go. Outside a workflow Step simply calls fn;
// inside another step it calls fn without recording it (only the outer
// step is recorded).
func Step[T any](ctx context.Context, name string, fn func(ctx context.Context) (T, error), opts ...StepOption) (T, error) {
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		return fn(ctx)
	}
	n, rec, ok, err := st.next()
	if err != nil {
		var zero T
		return zero, err
	}
	return traceStep(ctx, st, n, rec, ok, name, fn, stepOpts(opts))
}

// runStep runs step n, or replays it if it was recorded.
func runStep[T any](ctx context.Context, st *wfState, n int, rec store.Step, recorded bool, name string, fn func(context.Context) (T, error), o stepOptions) (T, error) {
	var zero T
	if recorded {
		return replayStep[T](st, n, rec, name)
	}
	started := st.eng.now()
	value, err := attempt(context.WithValue(ctx, stepKey{}, n), st, n, name, fn, o)
	if err != nil {
		if stop := st.halted(); stop != nil {
			return zero, stop // the workflow is stopping: run it again later
		}
	}
	step := store.Step{WorkflowID: st.id, StepID: n, Name: name, StartedAt: started}
	if err == nil {
		value, step.Output, err = roundTrip(st.eng, fmt.Sprintf("output of step %d (%s) of %s", n, name, st.id), value)
	}
	if err != nil {
		value, step.Output, step.Error = zero, nil, st.eng.encodeError(err)
		err = st.eng.decodeError(step.Error)
	}
	step.CompletedAt = st.eng.now()
	if rerr := st.recordOrConflict(ctx, step); rerr != nil {
		if errors.Is(rerr, store.ErrConflict) {
			return recordedStep[T](ctx, st, n, name) // another run recorded it first: its record wins
		}
		return zero, rerr
	}
	return value, err
}

// replayStep returns what step n recorded.
func replayStep[T any](st *wfState, n int, rec store.Step, name string) (T, error) {
	var zero T
	if err := st.check(n, rec, name); err != nil {
		return zero, err
	}
	if len(rec.Error) > 0 {
		return zero, st.eng.decodeError(rec.Error)
	}
	return decode[T](st.eng, fmt.Sprintf("step %d (%s) of %s", n, name, st.id), rec.Output)
}

// attempt calls fn until it succeeds or the policy gives up.
func attempt[T any](ctx context.Context, st *wfState, n int, name string, fn func(context.Context) (T, error), o stepOptions) (T, error) {
	p := o.retry
	var errs []error
	for i := 0; ; i++ {
		v, err := once(ctx, name, fn, o.timeout)
		st.eng.traceAttempt(ctx, i+1, err)
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
			return v, &StepError{WorkflowID: st.id, StepID: n, StepName: name, Attempts: append(errs, context.Cause(ctx))}
		}
	}
}

// once calls fn once, within timeout if it is positive.
func once[T any](ctx context.Context, name string, fn func(context.Context) (T, error), timeout time.Duration) (T, error) {
	if timeout <= 0 {
		return call(func() (T, error) { return fn(ctx) })
	}
	expired := fmt.Errorf("%w: step %q took more than %v", ErrStepTimeout, name, timeout)
	actx, cancel := context.WithTimeoutCause(ctx, timeout, expired)
	defer cancel()
	v, err := call(func() (T, error) { return fn(actx) })
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrStepTimeout) {
		return v, fmt.Errorf("%w: %w", expired, err)
	}
	return v, err
}

// recordedStep reads back step n as another run recorded it.
func recordedStep[T any](ctx context.Context, st *wfState, n int, name string) (T, error) {
	var zero T
	steps, err := st.eng.store.Steps(context.WithoutCancel(ctx), st.id)
	if err != nil {
		return zero, st.writeErr(err)
	}
	for _, s := range steps {
		if s.StepID == n {
			return replayStep[T](st, n, s, name)
		}
	}
	return zero, st.fail(fmt.Errorf("%w: step %d of %s: conflict reported but no record found", ErrSystemDatabase, n, st.id))
}
