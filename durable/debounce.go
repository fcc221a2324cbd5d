package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// A debounce runs as a workflow of its own, the debouncer, as in DBOS:
//
//   - Debounce enqueues a debouncer for the key on the debouncer's own
//     queue, with the key as deduplication ID, and the ID of the target
//     workflow it will start in its input; its own ID is the target's
//     with debouncerSuffix. The queue's unique deduplication ID admits
//     one debouncer per key, across processes.
//   - A Debounce that finds the key taken sends the new input to the
//     debouncer holding it, and waits for the debouncer to acknowledge it
//     with an event naming the target. If the debouncer ends without
//     taking the message (its wait was over), the key is free again and
//     Debounce starts over.
//   - The debouncer receives inputs until none came for the period, or
//     the maximum wait is over, then starts the target with the last
//     input, under the ID it was given: the start is a step of the
//     debouncer, so a crash anywhere starts it once.
const (
	debouncePrefix   = "durable.debounce/"     // + workflow name: the debouncer's name and queue
	debounceTopic    = "durable.debounce"      // the topic of new inputs
	debounceAck      = "durable.debounce.ack/" // + message ID: the event acknowledging it
	debounceDeadline = "durable.debounce.deadline"
	debounceWait     = "durable.debounce.wait"
	debouncerSuffix  = "-debouncer" // the debouncer's ID is its target's and this
)

// Debouncer starts a workflow for a key only once calls for that key stop
// arriving for a period, with the last input given; see Debounce. Make
// one with NewDebouncer.
type Debouncer[In, Out any] struct {
	eng     *Engine
	wf      *Workflow[In, Out]
	reg     *registration // the debouncer workflow
	name    string        // of the debouncer workflow and its queue
	period  time.Duration
	maxWait time.Duration // 0: none
}

// DebounceOption configures a Debouncer. Make one with
// WithDebounceTimeout.
type DebounceOption struct{ apply func(*debounceOptions) }

type debounceOptions struct {
	maxWait time.Duration
	hasMax  bool
}

// WithDebounceTimeout bounds how long calls can put off the workflow: it
// starts at most timeout after the first call of a burst (counted from
// when the burst's debouncer starts, at once unless its queue is busy),
// even if calls keep coming. It may not be shorter than the period. By
// default there is no bound.
func WithDebounceTimeout(timeout time.Duration) DebounceOption {
	return DebounceOption{func(o *debounceOptions) { o.maxWait, o.hasMax = timeout, true }}
}

// debounceInput is the input of a debouncer workflow.
type debounceInput[In any] struct {
	Key      string        `json:"key"`
	TargetID string        `json:"target_id"`
	Period   time.Duration `json:"period"`
	MaxWait  time.Duration `json:"max_wait,omitempty"`
	Input    In            `json:"input"`
}

// debounceMessage carries a later call's input to a debouncer.
type debounceMessage[In any] struct {
	ID    string `json:"id"`
	Input In     `json:"input"`
}

// NewDebouncer makes a debouncer of wf with the given quiet period. It
// registers a workflow named "durable.debounce/<wf's name>" and a queue
// of the same name, so call it before Launch, in every process that
// registers wf, with the same period: one debouncer per workflow. A
// period <= 0, or a WithDebounceTimeout shorter than the period, is
// ErrInvalidDebounce, and nothing is registered.
func NewDebouncer[In, Out any](e *Engine, wf *Workflow[In, Out], period time.Duration, opts ...DebounceOption) (*Debouncer[In, Out], error) {
	var o debounceOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	switch {
	case wf == nil:
		return nil, fmt.Errorf("%w: nil workflow", ErrInvalidDebounce)
	case period <= 0:
		return nil, fmt.Errorf("%w: period %v is not positive", ErrInvalidDebounce, period)
	case o.hasMax && o.maxWait < period:
		return nil, fmt.Errorf("%w: WithDebounceTimeout(%v) is shorter than the period %v", ErrInvalidDebounce, o.maxWait, period)
	}
	d := &Debouncer[In, Out]{eng: e, wf: wf, name: debouncePrefix + wf.Name(), period: period, maxWait: o.maxWait}
	if e.registered(d.name) != nil {
		return nil, fmt.Errorf("%w: %q already has a debouncer", ErrDuplicateName, wf.Name())
	}
	if e.dispatcher(d.name) != nil {
		return nil, fmt.Errorf("%w: %q", ErrDuplicateQueue, d.name)
	}
	if err := RegisterQueue(e, queue.Queue{Name: d.name}); err != nil {
		return nil, err
	}
	w, err := Register(e, d.name, d.run)
	if err != nil {
		return nil, err
	}
	d.reg = w.reg
	return d, nil
}

// Debounce asks for wf to run with input in once calls for key stop
// coming: the workflow starts when no call for key came for the period
// (or WithDebounceTimeout after the first call), with the input of the
// last call. Every call of one burst returns a handle to the same
// workflow, which has not started yet; a call after it started begins a
// new burst. This holds across processes sharing the system database.
//
// A call during a burst returns once the burst's debouncer has taken its
// input, a round trip through the system database; if ctx ends first,
// the input may still be taken. The debouncer itself is a workflow named
// "durable.debounce/<wf's name>" whose ID is the debounced workflow's
// followed by "-debouncer"; cancelling it cancels the burst.
//
// An empty key is ErrInvalidDebounce; an input the codec cannot encode
// is ErrEncode; neither records anything. Debounce needs a launched
// engine. Inside a workflow, call it from a step: it is not a durable
// operation of the workflow itself.
func (d *Debouncer[In, Out]) Debounce(ctx context.Context, key string, in In) (*DebounceHandle[Out], error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidDebounce)
	}
	e := d.eng
	ctx = context.WithValue(ctx, wfKey{}, (*wfState)(nil)) // not a child of the workflow calling
	for {
		target := e.cfg.NewID()
		input := debounceInput[In]{Key: key, TargetID: target, Period: d.period, MaxWait: d.maxWait, Input: in}
		o := startOptions{id: target + debouncerSuffix, idGiven: true, q: enqueueOptions{queue: d.name, dedupID: key}}
		_, _, err := e.start(ctx, d.reg, input, o)
		var held *DeduplicatedError
		if !errors.As(err, &held) {
			if err != nil {
				return nil, err
			}
			return &DebounceHandle[Out]{eng: e, id: target, debouncer: o.id}, nil
		}
		target, ok, err := d.tell(ctx, held.ExistingID, in)
		if err != nil {
			return nil, err
		}
		if ok {
			return &DebounceHandle[Out]{eng: e, id: target, debouncer: held.ExistingID}, nil
		}
		// The debouncer ended without taking the input: the key is free.
	}
}

// tell sends in to the debouncer holder and waits until it acknowledges
// the input, returning the ID of the workflow it will start, or ends
// without having taken it (ok is false).
func (d *Debouncer[In, Out]) tell(ctx context.Context, holder string, in In) (target string, ok bool, err error) {
	e := d.eng
	msg := debounceMessage[In]{ID: e.cfg.NewID(), Input: in}
	switch err := e.send(ctx, nil, holder, debounceTopic, msg, nil); {
	case errors.Is(err, ErrWorkflowNotFound):
		return "", false, nil // deleted since
	case err != nil:
		return "", false, err
	}
	ack := debounceAck + msg.ID
	var b []byte
	err = e.wait(ctx, time.Time{}, func() (bool, error) {
		var err error
		if b, ok, err = e.store.GetEvent(ctx, holder, ack); err != nil || ok {
			return ok, sysErr(err)
		}
		wf, err := e.store.GetWorkflow(ctx, holder)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return true, nil
		case err != nil:
			return false, sysErr(err)
		case !wf.Status.Terminal():
			return false, nil
		}
		// It ended; an acknowledgement is set before the end, so it shows
		// now if ever.
		b, ok, err = e.store.GetEvent(ctx, holder, ack)
		return true, sysErr(err)
	}, store.KeyEvent(holder, ack), store.KeyWorkflow(holder))
	if err != nil || !ok {
		return "", false, err
	}
	target, err = decode[string](e, "acknowledgement of debouncer "+holder, b)
	return target, err == nil, err
}

// sysErr marks an error of the store as one, unless it is the end of the
// caller's context.
func sysErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrSystemDatabase, err)
}

// run is the debouncer workflow. Its choices depend only on its input and
// its recorded steps, so a replay makes the same ones.
func (d *Debouncer[In, Out]) run(ctx context.Context, in debounceInput[In]) (string, error) {
	var deadline int64 // Unix ms; 0 for none
	if in.MaxWait > 0 {
		var err error
		deadline, err = Step(ctx, debounceDeadline, func(context.Context) (int64, error) {
			return d.eng.now().Add(in.MaxWait).UnixMilli(), nil
		})
		if err != nil {
			return "", err
		}
	}
	last := in.Input
	for {
		wait := in.Period
		if deadline != 0 {
			var err error
			wait, err = Step(ctx, debounceWait, func(context.Context) (time.Duration, error) {
				return max(0, min(in.Period, time.UnixMilli(deadline).Sub(d.eng.now()))), nil
			})
			if err != nil {
				return "", err
			}
			if wait <= 0 {
				break
			}
		}
		msg, err := Recv[debounceMessage[In]](ctx, debounceTopic, wait)
		if errors.Is(err, ErrTimeout) {
			break
		}
		if err != nil {
			return "", err
		}
		last = msg.Input
		if err := SetEvent(ctx, debounceAck+msg.ID, in.TargetID); err != nil {
			return "", err
		}
	}
	if _, err := d.wf.Start(ctx, last, WithID(in.TargetID), Detached()); err != nil {
		return "", err
	}
	return in.TargetID, nil
}

// Retrieve returns a handle to the workflow with this ID that a Debounce
// call of d named, started or not, or an error wrapping
// ErrWorkflowNotFound if Debounce named no such workflow.
func (d *Debouncer[In, Out]) Retrieve(ctx context.Context, id string) (*DebounceHandle[Out], error) {
	wf, err := d.eng.store.GetWorkflow(ctx, id+debouncerSuffix)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && wf.Name != d.name:
		return nil, fmt.Errorf("%w: %q is not a debounced workflow of %q", ErrWorkflowNotFound, id, d.wf.Name())
	case err != nil:
		return nil, sysErr(err)
	}
	return &DebounceHandle[Out]{eng: d.eng, id: id, debouncer: wf.ID}, nil
}

// DebounceHandle refers to the workflow a Debounce call will start, which
// may not exist yet.
type DebounceHandle[Out any] struct {
	eng       *Engine
	id        string
	debouncer string
}

// ID returns the ID the debounced workflow has, or will have once
// started.
func (h *DebounceHandle[Out]) ID() string { return h.id }

// Started waits until the debounced workflow has started and returns its
// handle. If its debouncer ended without starting it (it was cancelled,
// say), the error says so and wraps the debouncer's error, or
// ErrWorkflowNotFound.
func (h *DebounceHandle[Out]) Started(ctx context.Context) (*Handle[Out], error) {
	e := h.eng
	var started bool
	exists := func() error {
		_, err := e.store.GetWorkflow(ctx, h.id)
		if started = err == nil; errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return sysErr(err)
	}
	err := e.wait(ctx, time.Time{}, func() (bool, error) {
		if err := exists(); err != nil || started {
			return started, err
		}
		wf, err := e.store.GetWorkflow(ctx, h.debouncer)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return true, nil
		case err != nil:
			return false, sysErr(err)
		case !wf.Status.Terminal():
			return false, nil
		}
		return true, exists() // the start is recorded before the debouncer ends
	}, store.KeyWorkflow(h.id), store.KeyWorkflow(h.debouncer))
	if err != nil {
		return nil, err
	}
	if !started {
		cause := ErrWorkflowNotFound
		if _, err := e.await(ctx, h.debouncer, nil); err != nil {
			cause = err
		}
		return nil, fmt.Errorf("durable: debounced workflow %s was never started: its debouncer %s ended: %w", h.id, h.debouncer, cause)
	}
	return &Handle[Out]{eng: e, id: h.id, run: e.activeRun(h.id)}, nil
}

// Result waits for the debounced workflow to start and to finish, and
// returns what Handle.Result returns.
func (h *DebounceHandle[Out]) Result(ctx context.Context) (Out, error) {
	wh, err := h.Started(ctx)
	if err != nil {
		var zero Out
		return zero, err
	}
	return wh.Result(ctx)
}
