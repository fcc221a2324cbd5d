package durable

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/dboslite/dboslite/store"
)

const (
	writeStreamStep = "durable.writeStream"
	closeStreamStep = "durable.closeStream"
)

// WriteStream appends value to the stream key of the workflow running in
// ctx. From the workflow function it is a step, written exactly once; from
// inside a step it is written once per attempt.
func WriteStream(ctx context.Context, key string, value any) error {
	return streamOp(ctx, key, value, false)
}

// CloseStream closes the stream key of the workflow running in ctx; readers
// stop after its last value. Writing to a closed stream is
// ErrStreamClosed.
func CloseStream(ctx context.Context, key string) error {
	return streamOp(ctx, key, nil, true)
}

func streamOp(ctx context.Context, key string, value any, closing bool) error {
	st := stateFrom(ctx)
	if st == nil {
		return fmt.Errorf("%w: WriteStream/CloseStream", ErrNotInWorkflow)
	}
	e := st.eng
	p := store.StreamWrite{WorkflowID: st.id, Key: key, Close: closing, Owner: st.owner, Now: e.now()}
	name := closeStreamStep
	if !closing {
		name = writeStreamStep
		b, err := e.encode(fmt.Sprintf("stream %q value", key), value)
		if err != nil {
			return err
		}
		p.Value = b
	}
	if !inStep(ctx) {
		n, rec, ok, err := st.next()
		if err != nil {
			return err
		}
		if ok {
			if err := st.check(n, rec, name); err != nil {
				return err
			}
			return e.decodeError(rec.Error)
		}
		p.Step = &store.Step{WorkflowID: st.id, StepID: n, Name: name, Output: []byte("null"), StartedAt: p.Now, CompletedAt: p.Now}
	}
	err := e.store.WriteStream(context.WithoutCancel(ctx), p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrStreamClosed) && p.Step != nil:
		// Recorded, so a replay fails the same way.
		step := *p.Step
		step.Output, step.Error = nil, e.encodeError(fmt.Errorf("%w: stream %q of %s", ErrStreamClosed, key, st.id))
		if rerr := st.record(ctx, step); rerr != nil {
			return rerr
		}
		return e.decodeError(step.Error)
	case errors.Is(err, store.ErrStreamClosed):
		return fmt.Errorf("%w: stream %q of %s", ErrStreamClosed, key, st.id)
	case p.Step != nil:
		return st.writeErr(err)
	}
	return fmt.Errorf("%w: %w", ErrSystemDatabase, err) // the step fails, and may retry
}

// ReadStream returns the values of the stream key of workflow workflowID,
// from offset from on, in order. It waits for new values and ends after
// the stream is closed or the workflow has finished and every value is
// read. A missing workflow yields ErrWorkflowNotFound. Reads are not
// checkpointed: inside a workflow, read from a step.
func ReadStream[T any](ctx context.Context, sys System, workflowID, key string, from int) iter.Seq2[T, error] {
	e := sys.engine()
	return func(yield func(T, error) bool) {
		var zero T
		if _, err := e.store.GetWorkflow(ctx, workflowID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = fmt.Errorf("%w: %q", ErrWorkflowNotFound, workflowID)
			}
			yield(zero, err)
			return
		}
		for {
			var entries []store.StreamEntry
			var closed bool
			err := e.wait(ctx, time.Time{}, func() (bool, error) {
				// Read the status first: values written before the workflow
				// ended are all visible to the read that follows.
				wf, err := e.store.GetWorkflow(ctx, workflowID)
				if err != nil {
					return false, err
				}
				entries, closed, err = e.store.ReadStream(ctx, workflowID, key, from)
				if err != nil {
					return false, err
				}
				closed = closed || wf.Status.Terminal()
				return closed || len(entries) > 0, nil
			}, store.KeyStream(workflowID, key), store.KeyWorkflow(workflowID))
			if err != nil {
				yield(zero, err)
				return
			}
			for _, en := range entries {
				v, err := decode[T](e, fmt.Sprintf("stream %q of %s at %d", key, workflowID, en.Offset), en.Value)
				if !yield(v, err) || err != nil {
					return
				}
				from = en.Offset + 1
			}
			if closed {
				return
			}
		}
	}
}
