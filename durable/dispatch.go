package durable

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dboslite/dboslite/internal/dispatch"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// RegisterQueue makes this process serve q: from Launch on, it runs the
// workflows enqueued on q whose names it registered, within q's limits.
// Every process that should run a queue's workflows registers it, with
// the same definition. Register queues before Launch.
func RegisterQueue(e *Engine, q queue.Queue) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("durable: register queue: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != stateNew {
		return fmt.Errorf("%w: register queue %q before Launch", ErrAlreadyLaunched, q.Name)
	}
	if _, dup := e.queues[q.Name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateQueue, q.Name)
	}
	e.queues[q.Name] = &dispatcher{e: e, q: q, kick: make(chan struct{}, 1)}
	return nil
}

// dispatcher claims and runs the workflows of one queue. It claims when it
// has free slots and is woken: by an enqueue or a finished workflow of
// this process, by another process's commit, or by its back-off timer,
// which notices delays and rate-limit windows running out.
type dispatcher struct {
	e    *Engine
	q    queue.Queue
	kick chan struct{}

	mu      sync.Mutex
	running int // workflows of this queue running in this process

	// strays is set when workflows this dispatcher claimed may be held by
	// this instance and run nowhere; only the dispatcher's goroutine uses
	// it.
	strays bool
}

// dispatcher returns the dispatcher of a queue this process serves, or
// nil.
func (e *Engine) dispatcher(name string) *dispatcher {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queues[name]
}

// startDispatchers starts one goroutine per registered queue, under the
// engine's lifetime.
func (e *Engine) startDispatchers() {
	w := dispatch.Worker{ExecutorID: e.cfg.ExecutorID, ApplicationVersion: e.cfg.ApplicationVersion, Names: e.registeredNames()}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.queues {
		e.loops.Go(func() { d.loop(e.life, w) })
	}
}

// wake makes the dispatcher claim again soon; wake-ups coalesce.
func (d *dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// release frees the slot of a workflow that ended.
func (d *dispatcher) release() {
	d.mu.Lock()
	d.running--
	d.mu.Unlock()
	d.wake()
}

func (d *dispatcher) loop(ctx context.Context, w dispatch.Worker) {
	var work <-chan struct{}
	if wt, ok := d.e.store.(store.Watcher); ok {
		// Background: the dispatcher polls anyway, so it keeps no poll of
		// other processes running (an idle engine stays idle), and is
		// woken at once by this process's enqueues and finishes.
		ch, stop := wt.Watch(ctx, store.WatchParams{Keys: []string{store.KeyQueue(d.q.Name)}, Background: true})
		defer stop()
		work = ch
	}
	backoff := dispatch.NewBackoff(d.q)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		n, more := d.claim(ctx, w)
		if ctx.Err() != nil {
			return
		}
		if more {
			continue // a full batch: there may be more right away
		}
		if n > 0 {
			backoff.Reset()
		}
		timer.Reset(backoff.Next())
		select {
		case <-d.kick:
		case <-work:
			// An enqueue or a finished workflow of this queue, perhaps by
			// another process: coalesce a burst of them into one claim
			// per MinPollInterval.
			if !sleep(ctx, queue.MinPollInterval) {
				return
			}
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// sleep waits d unless ctx ends first, which it reports as false.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// claim takes what the queue admits and launches it. It returns how many
// it launched and whether it took a full batch.
func (d *dispatcher) claim(ctx context.Context, w dispatch.Worker) (int, bool) {
	w.Owner = d.e.instanceID() // it changes if this engine was declared dead
	if d.strays {
		d.strays = !d.putBack(ctx, w.Owner)
	}
	d.mu.Lock()
	// Now zero: claims, rate windows and delays go by the database's
	// clock, shared by every machine (see store's doc, Clocks).
	p, ok := dispatch.ClaimParams(d.q, w, d.running, time.Time{})
	d.mu.Unlock()
	if !ok {
		return 0, false
	}
	wfs, err := d.e.store.Claim(ctx, p)
	if err != nil {
		// The claim may have committed (store.ErrOutcomeUnknown): what it
		// took is this instance's and runs nowhere. Look before the next.
		d.strays = true
		if ctx.Err() == nil {
			d.e.log.Error("durable: claim from queue", "queue", d.q.Name, "err", err)
		}
		return 0, false
	}
	d.mu.Lock()
	d.running += len(wfs)
	d.mu.Unlock()
	for _, wf := range wfs {
		d.start(ctx, wf)
	}
	return len(wfs), len(wfs) == p.Max
}

// start launches a claimed workflow. One that cannot start (the engine is
// shutting down, its steps cannot be read) stays PENDING, owned by this
// instance: the dispatcher puts it back before its next claim, or, if the
// engine stops, adoption does.
func (d *dispatcher) start(ctx context.Context, wf store.Workflow) {
	var steps []store.Step
	var err error
	if wf.RecoveryAttempts > 1 {
		// Claimed before: resume from its recorded steps.
		if steps, err = d.e.store.Steps(ctx, wf.ID); err != nil {
			d.release()
			d.strays = true
			d.e.log.Error("durable: read steps of a dequeued workflow; it goes back to its queue", "workflow", wf.ID, "err", err)
			return
		}
	}
	reg := d.e.registered(wf.Name)
	if reg == nil { // cannot happen: the claim filters by registered names
		d.release()
		return
	}
	if _, started, err := d.e.launch(reg, wf, steps); err != nil || !started {
		d.release()
	}
}

// putBack returns to the queue the workflows of it that owner holds but
// runs nowhere: those a claim with an unknown outcome took, or that could
// not start. Only this dispatcher claims for owner in this queue, and it
// is not claiming now, so any such workflow not running here is a stray.
// It reports whether it looked.
func (d *dispatcher) putBack(ctx context.Context, owner string) bool {
	held, err := d.e.store.ListWorkflows(ctx, store.ListParams{
		Statuses: []store.Status{store.StatusPending}, Queue: d.q.Name, Owner: owner,
	})
	if err != nil {
		return false
	}
	for _, wf := range held {
		if d.e.activeRun(wf.ID) != nil {
			continue
		}
		maxAttempts := d.e.cfg.MaxRecoveryAttempts
		if reg := d.e.registered(wf.Name); reg != nil {
			maxAttempts = reg.maxRecovery
		}
		if err := d.e.requeue(ctx, wf, maxAttempts); err != nil {
			return false
		}
	}
	return true
}
