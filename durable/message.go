package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

const (
	sendStep = "durable.send"
	recvStep = "durable.recv"
)

// SendOption configures a Send. Make one with WithIdempotencyKey.
type SendOption struct{ apply func(*sendOptions) }

type sendOptions struct{ idempotencyKey string }

// WithIdempotencyKey delivers the message at most once per destination,
// however often the send is retried with the same key.
func WithIdempotencyKey(key string) SendOption {
	return SendOption{func(o *sendOptions) { o.idempotencyKey = key }}
}

// Send sends msg to the workflow destID under topic from inside a
// workflow. The send is a step of the sending workflow: a replay does not
// send again. Sending to a workflow that does not exist is
// ErrWorkflowNotFound. From outside a workflow, use Engine.Send.
func Send(ctx context.Context, destID, topic string, msg any, opts ...SendOption) error {
	st := stateFrom(ctx)
	if st == nil {
		return fmt.Errorf("%w: Send (use Engine.Send outside a workflow)", ErrNotInWorkflow)
	}
	return st.eng.send(ctx, st, destID, topic, msg, opts)
}

// Send sends msg to the workflow destID under topic. Called from inside a
// workflow it behaves as the package-level Send.
func (e *Engine) Send(ctx context.Context, destID, topic string, msg any, opts ...SendOption) error {
	return e.send(ctx, stateFrom(ctx), destID, topic, msg, opts)
}

func (e *Engine) send(ctx context.Context, st *wfState, destID, topic string, msg any, opts []SendOption) error {
	payload, err := e.encode(fmt.Sprintf("message to %s", destID), msg)
	if err != nil {
		return err
	}
	var o sendOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	p := store.SendParams{DestinationID: destID, Topic: topic, Payload: payload, IdempotencyKey: o.idempotencyKey, Now: e.now()}
	if st != nil && !inStep(ctx) {
		n, rec, ok, err := st.next()
		if err != nil {
			return err
		}
		if ok {
			if err := st.check(n, rec, sendStep); err != nil {
				return err
			}
			return e.decodeError(rec.Error) // sent by an earlier run, or failed as it did
		}
		p.Step = &store.Step{WorkflowID: st.id, StepID: n, Name: sendStep, Output: []byte("null"), StartedAt: p.Now, CompletedAt: p.Now}
		p.Owner = st.owner
	}
	err = e.store.Send(context.WithoutCancel(ctx), p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && p.Step != nil:
		// Recorded, so a replay fails the same way without sending.
		nf := fmt.Errorf("%w: send destination %q", ErrWorkflowNotFound, destID)
		step := *p.Step
		step.Output, step.Error = nil, e.encodeError(nf)
		if rerr := st.record(ctx, step); rerr != nil {
			return rerr
		}
		return e.decodeError(step.Error)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: send destination %q", ErrWorkflowNotFound, destID)
	case st != nil && p.Step != nil:
		return st.writeErr(err)
	}
	return fmt.Errorf("%w: %w", ErrSystemDatabase, err)
}

// Recv waits for the next message of topic sent to the workflow running
// in ctx, and returns it. Messages of a topic arrive in the order they were
// sent, and each is received once: taking it and recording it are one
// transaction. If none arrives within timeout it returns an error matching
// ErrTimeout. The deadline is durable: after a restart Recv waits only
// what is left, and a replay returns the recorded message, or timeout, at
// once. Recv works only in the workflow function, not in a step.
func Recv[T any](ctx context.Context, topic string, timeout time.Duration) (T, error) {
	var zero T
	st := stateFrom(ctx)
	if st == nil {
		return zero, fmt.Errorf("%w: Recv", ErrNotInWorkflow)
	}
	if inStep(ctx) {
		return zero, fmt.Errorf("%w: Recv(%q)", ErrInStep, topic)
	}
	if timeout < 0 {
		return zero, fmt.Errorf("%w: Recv(%q, %v)", ErrInvalidTimeout, topic, timeout)
	}
	e := st.eng
	n, rec, ok, err := st.next()
	if err != nil {
		return zero, err
	}
	if ok {
		st.skip() // the deadline's step number
		return replayStep[T](st, n, rec, recvStep)
	}
	deadline, err := st.wakeTime(ctx, timeout)
	if err != nil {
		return zero, err
	}
	var payload []byte
	err = e.wait(ctx, deadline, func() (bool, error) {
		var found bool
		var err error
		payload, found, err = e.store.ConsumeMessage(context.WithoutCancel(ctx), store.ConsumeParams{
			WorkflowID: st.id, Topic: topic, Owner: st.owner,
			Step: store.Step{WorkflowID: st.id, StepID: n, Name: recvStep, StartedAt: e.now(), CompletedAt: e.now()},
		})
		if err != nil {
			return false, st.writeErr(err)
		}
		return found, nil
	}, store.KeyMessages(st.id, topic))
	if errors.Is(err, ErrTimeout) {
		return zero, st.recordTimeout(ctx, n, recvStep, fmt.Sprintf("Recv(%q)", topic))
	}
	if err != nil {
		return zero, err
	}
	return decode[T](e, fmt.Sprintf("message %q of %s", topic, st.id), payload)
}

// recordTimeout records that the wait at step n timed out, as an error,
// so a replay times out too, and returns that error as a replay would.
func (s *wfState) recordTimeout(ctx context.Context, n int, name, what string) error {
	now := s.eng.now()
	step := store.Step{WorkflowID: s.id, StepID: n, Name: name, StartedAt: now, CompletedAt: now,
		Error: s.eng.encodeError(fmt.Errorf("%s: %w", what, ErrTimeout))}
	if err := s.record(ctx, step); err != nil {
		return err
	}
	return s.eng.decodeError(step.Error)
}
