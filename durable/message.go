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

// SendOption configures a Send.
type SendOption func(*store.SendParams)

// WithIdempotencyKey delivers the message at most once per destination,
// however often the send is retried with the same key.
func WithIdempotencyKey(key string) SendOption {
	return func(p *store.SendParams) { p.IdempotencyKey = key }
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
	p := store.SendParams{DestinationID: destID, Topic: topic, Payload: payload, Now: e.now()}
	for _, o := range opts {
		o(&p)
	}
	if st != nil && !inStep(ctx) {
		n, rec, ok, err := st.next(ctx)
		if err != nil {
			return err
		}
		if ok {
			return st.check(n, rec, sendStep) // sent by an earlier run
		}
		p.Step = &store.Step{WorkflowID: st.id, StepID: n, Name: sendStep, Output: []byte("null"), StartedAt: p.Now, CompletedAt: p.Now}
	}
	err = e.store.Send(context.WithoutCancel(ctx), p)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: send destination %q", ErrWorkflowNotFound, destID)
	}
	if err != nil && st != nil {
		return e.writeErr(st.id, err)
	}
	return err
}

// Recv waits for the next message of topic sent to the workflow running
// in ctx, and returns it. Messages of a topic arrive in the order they were
// sent, and each is received once: taking it and recording it are one
// transaction. If none arrives within timeout it returns ErrTimeout. The
// deadline is durable: after a restart Recv waits only what is left, and a
// replay returns the recorded message, or timeout, at once. Recv works
// only inside a workflow.
func Recv[T any](ctx context.Context, topic string, timeout time.Duration) (T, error) {
	var zero T
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		return zero, fmt.Errorf("%w: Recv", ErrNotInWorkflow)
	}
	if timeout < 0 {
		return zero, fmt.Errorf("%w: Recv(%q, %v)", ErrInvalidTimeout, topic, timeout)
	}
	e := st.eng
	n, rec, ok, err := st.next(ctx)
	if err != nil {
		return zero, err
	}
	if ok {
		st.skip() // the deadline's step number
		return recorded[T](st, n, rec, recvStep)
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
			WorkflowID: st.id, Topic: topic,
			Step: store.Step{WorkflowID: st.id, StepID: n, Name: recvStep, StartedAt: e.now(), CompletedAt: e.now()},
		})
		if err != nil {
			return false, e.writeErr(st.id, err)
		}
		return found, nil
	}, store.KeyMessages(st.id))
	if errors.Is(err, ErrTimeout) {
		return zero, st.recordTimeout(ctx, n, recvStep)
	}
	if err != nil {
		return zero, err
	}
	return decode[T](e, fmt.Sprintf("message %q of %s", topic, st.id), payload)
}

// recorded returns what a Recv or GetEvent recorded at step n: a value, or
// nil output for a timeout.
func recorded[T any](st *wfState, n int, rec store.Step, name string) (T, error) {
	var zero T
	if err := st.check(n, rec, name); err != nil {
		return zero, err
	}
	if rec.Output == nil {
		return zero, ErrTimeout
	}
	return decode[T](st.eng, fmt.Sprintf("step %d (%s) of %s", n, name, st.id), rec.Output)
}

// recordTimeout records that the wait at step n timed out, so a replay
// times out too, and returns ErrTimeout.
func (s *wfState) recordTimeout(ctx context.Context, n int, name string) error {
	now := s.eng.now()
	step := store.Step{WorkflowID: s.id, StepID: n, Name: name, StartedAt: now, CompletedAt: now}
	if err := s.eng.store.RecordStep(context.WithoutCancel(ctx), step); err != nil {
		return s.eng.writeErr(s.id, err)
	}
	return ErrTimeout
}

// skip consumes a step number without using it.
func (s *wfState) skip() {
	s.mu.Lock()
	s.last++
	s.mu.Unlock()
}
