package durable

import (
	"context"
)

// Future is the result of a step started with Go.
type Future[T any] struct {
	done  chan struct{}
	value T
	err   error
}

// Go runs fn as step name of the workflow running in ctx in a new
// goroutine, and returns at once. Its step number is taken now, on the
// workflow's goroutine, in the order of the workflow's calls, so steps
// started with Go replay in the same places whatever order they finish
// in. Wait returns the step's result, as Step would have: a replay
// returns the recorded one without running fn.
//
// Go is how a workflow fans out: start several steps with Go, then Wait
// for each. To run child workflows concurrently, Start them one after
// another (Start returns at once) and wait on their handles.
//
// Called from another goroutine than the workflow's, Go fails with
// ErrNotWorkflowGoroutine (from Wait). Outside a workflow, or inside a
// step, it runs fn in a goroutine without recording it.
func Go[T any](ctx context.Context, name string, fn func(ctx context.Context) (T, error), opts ...StepOption) *Future[T] {
	f := &Future[T]{done: make(chan struct{})}
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		go func() {
			defer close(f.done)
			f.value, f.err = call(func() (T, error) { return fn(ctx) })
		}()
		return f
	}
	n, rec, ok, err := st.next()
	if err != nil {
		f.err = err
		close(f.done)
		return f
	}
	if ok {
		f.value, f.err = runStep(ctx, st, n, rec, true, name, fn, stepOptions{})
		close(f.done)
		return f
	}
	o := stepOpts(opts)
	st.eng.runs.Add(1) // Shutdown waits for it
	go func() {
		defer st.eng.runs.Done()
		defer close(f.done)
		f.value, f.err = traceStep(ctx, st, n, rec, false, name, fn, o)
	}()
	return f
}

// Wait waits for the step to finish and returns its result, or the cause
// of ctx's end if that comes first (the step goes on).
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
