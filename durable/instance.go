package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/dboslite/dboslite/internal/proc"
	"github.com/dboslite/dboslite/store"
)

// Executors and adoption. Every launched engine registers an instance of
// itself in the system database — executor ID, application version, host,
// PID — and renews its heartbeat every HeartbeatInterval. A PENDING
// workflow names the instance that runs it, and every write made for it
// names that instance too: the database refuses the write once another
// instance owns the workflow, so two live engines never both record it,
// whatever their executor IDs.
//
// An instance is dead when it shut down, when its heartbeat is older than
// InstanceLease by the database's clock, or — at once — when an engine on
// the same host sees that its process is gone. Every live engine looks
// for the PENDING workflows of dead instances every HeartbeatInterval
// (and at Launch) and adopts them, each with one atomic claim that only
// one engine wins: a queued workflow goes back to its queue, freeing its
// slot; another workflow of this engine's application version (or of
// none) whose name it registered runs here, replaying its recorded steps.
// An engine that finds itself declared dead stops its runs and registers
// again.

// registerInstance records this engine as a live instance.
func (e *Engine) registerInstance(ctx context.Context) error {
	self := proc.Self()
	in, err := e.store.RegisterInstance(ctx, store.InstanceParams{
		ID: ulid.Make().String(), ExecutorID: e.cfg.ExecutorID, ApplicationVersion: e.cfg.ApplicationVersion,
		ApplicationName: e.cfg.AppName, Host: self.Host, PID: self.PID, ProcessStart: self.Start,
		Workflows: e.registeredNames(),
	})
	if err != nil {
		return fmt.Errorf("durable: register this engine's instance: %w", err)
	}
	e.mu.Lock()
	e.instance = in.ID
	e.mu.Unlock()
	return nil
}

// instanceID returns this engine's instance, "" before Launch.
func (e *Engine) instanceID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.instance
}

// adoptSoon makes a launched engine look for orphaned work now rather
// than at its next heartbeat: a workflow was resumed or forked.
func (e *Engine) adoptSoon() { signal(e.adoptNow) }

// heartbeat renews this instance's heartbeat and adopts orphaned work,
// every HeartbeatInterval until Shutdown, and when adoptSoon asks.
func (e *Engine) heartbeat() {
	defer e.loops.Done()
	t := time.NewTicker(e.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-e.adoptNow:
			if err := e.adopt(e.life); err != nil && e.life.Err() == nil {
				e.log.Warn("durable: adopt resumed or forked workflows", "err", err)
			}
			continue
		case <-e.life.Done():
			return
		}
		if err := e.beat(); err != nil {
			if e.life.Err() == nil {
				e.log.Warn("durable: heartbeat", "instance", e.instanceID(), "err", err)
			}
			continue
		}
		if err := e.adopt(e.life); err != nil && e.life.Err() == nil {
			e.log.Warn("durable: adopt workflows of dead instances", "err", err)
		}
	}
}

// beat renews the heartbeat. If this instance was declared dead, its
// workflows may run elsewhere already: it stops its runs here, without
// recording anything more, and registers a new instance.
func (e *Engine) beat() error {
	err := e.store.Heartbeat(e.life, e.instanceID())
	if !errors.Is(err, store.ErrInstanceLost) {
		return err
	}
	e.log.Error("durable: this engine was declared dead (no heartbeat within InstanceLease); stopping its workflows here so they are adopted",
		"instance", e.instanceID())
	e.mu.Lock()
	runs := make([]*run, 0, len(e.active))
	for _, r := range e.active {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	for _, r := range runs {
		e.abandon(r)
	}
	return e.registerInstance(e.life)
}

// abandon stops a run whose workflow this instance no longer owns.
func (e *Engine) abandon(r *run) {
	e.mu.Lock()
	cancel, parked := r.cancel, r.suspended
	e.mu.Unlock()
	switch {
	case cancel != nil:
		cancel(errNotOwner)
	case parked:
		e.end(r, store.StatusPending, nil, nil)
	}
}

// adopt declares dead the instances that are, and takes over the PENDING
// workflows no live instance owns. It goes on past a workflow it cannot
// adopt and reports every such error.
func (e *Engine) adopt(ctx context.Context) error {
	if _, err := e.store.ExpireInstances(ctx, e.cfg.InstanceLease); err != nil {
		return err
	}
	instances, err := e.store.Instances(ctx)
	if err != nil {
		return err
	}
	me := e.instanceID()
	for _, in := range instances {
		if in.ID != me && proc.Gone(proc.Identity{Host: in.Host, PID: in.PID, Start: in.ProcessStart}) {
			if err := e.store.StopInstance(ctx, in.ID); err != nil {
				return err
			}
			e.log.Info("durable: the process of an instance on this host is gone; adopting its workflows",
				"instance", in.ID, "executor", in.ExecutorID, "pid", in.PID)
		}
	}
	orphans, err := e.store.Orphans(ctx, store.OrphanParams{})
	if err != nil {
		return err
	}
	var errs []error
	for _, wf := range orphans {
		if err := e.adoptOne(ctx, wf); err != nil {
			errs = append(errs, fmt.Errorf("durable: adopt %s: %w", wf.ID, err))
		}
	}
	return errors.Join(errs...)
}

// adoptOne takes over one orphaned workflow.
func (e *Engine) adoptOne(ctx context.Context, wf store.Workflow) error {
	reg := e.registered(wf.Name)
	maxAttempts := e.cfg.MaxRecoveryAttempts
	if reg != nil {
		maxAttempts = reg.maxRecovery
	}
	if wf.QueueName != "" {
		return e.requeue(ctx, wf, maxAttempts)
	}
	if wf.ApplicationVersion != "" && wf.ApplicationVersion != e.cfg.ApplicationVersion {
		return nil // for an engine of its own version; one of none runs anywhere
	}
	if reg == nil {
		e.warnOnce(wf.ID, "durable: not adopting a workflow whose name is not registered; it stays PENDING",
			"workflow", wf.ID, "name", wf.Name)
		return nil
	}
	me := e.instanceID()
	wf, err := e.store.RecoverWorkflow(ctx, store.RecoverParams{
		WorkflowID: wf.ID, From: wf.Owner, Owner: me, ExecutorID: e.cfg.ExecutorID,
		ApplicationVersion: e.cfg.ApplicationVersion, MaxAttempts: maxAttempts, Now: e.now(),
	})
	if err != nil || wf.Owner != me {
		return err // another engine adopted it first
	}
	switch wf.Status {
	case store.StatusMaxRecoveryAttemptsExceeded:
		e.log.Error("durable: workflow exceeded its maximum recovery attempts; it will not run again",
			"workflow", wf.ID, "name", wf.Name, "attempts", wf.RecoveryAttempts)
		return nil
	case store.StatusPending:
	default:
		return nil // finished meanwhile
	}
	steps, err := e.store.Steps(ctx, wf.ID)
	if err != nil {
		return err // it stays ours, PENDING: adopted again when this instance is gone
	}
	e.log.Info("durable: recovering workflow", "workflow", wf.ID, "name", wf.Name, "recorded_steps", len(steps))
	_, _, err = e.launch(reg, wf, steps)
	return err
}

// requeue puts an orphaned queued workflow back in its queue, freeing its
// slot, whatever its version: the queue's limits decide who runs it.
func (e *Engine) requeue(ctx context.Context, wf store.Workflow, maxAttempts int) error {
	wf, err := e.store.Requeue(ctx, store.RequeueParams{WorkflowID: wf.ID, From: wf.Owner, MaxAttempts: maxAttempts, Now: e.now()})
	if err != nil {
		return err
	}
	switch wf.Status {
	case store.StatusMaxRecoveryAttemptsExceeded:
		e.log.Error("durable: workflow exceeded its maximum recovery attempts; it will not run again",
			"workflow", wf.ID, "name", wf.Name, "attempts", wf.RecoveryAttempts)
	case store.StatusEnqueued:
		e.log.Info("durable: recovering workflow through its queue", "workflow", wf.ID, "name", wf.Name, "queue", wf.QueueName)
		if d := e.dispatcher(wf.QueueName); d != nil {
			d.wake()
		}
	}
	return nil
}

// warnOnce logs msg once per workflow ID.
func (e *Engine) warnOnce(id, msg string, args ...any) {
	e.mu.Lock()
	seen := e.warned[id]
	e.warned[id] = true
	e.mu.Unlock()
	if !seen {
		e.log.Warn(msg, args...)
	}
}

// knownWorkflow returns ErrUnknownWorkflow unless an engine of the
// database registered a workflow of this name, now or before.
func (e *Engine) knownWorkflow(ctx context.Context, name string) error {
	if e.registered(name) != nil {
		return nil
	}
	ok, err := e.store.KnownWorkflow(ctx, name)
	switch {
	case err != nil:
		return fmt.Errorf("%w: look up workflow %q: %w", ErrSystemDatabase, name, err)
	case !ok:
		return fmt.Errorf("%w: %q (no engine of this database registered it: check the name)", ErrUnknownWorkflow, name)
	}
	return nil
}
