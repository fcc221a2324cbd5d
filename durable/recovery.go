package durable

import (
	"context"
	"fmt"

	"github.com/dboslite/dboslite/store"
)

// recoverPending resumes the PENDING workflows of this executor and
// application version. Each recovery counts an attempt; a workflow past
// its limit is set to MAX_RECOVERY_ATTEMPTS_EXCEEDED instead of running.
// A workflow of a queue goes back to its queue, so its limits hold, and
// counts its attempt when it is claimed again. A workflow whose name is
// not registered is left PENDING and logged.
func (e *Engine) recoverPending(ctx context.Context) error {
	pending, err := e.store.ListWorkflows(ctx, store.ListParams{
		Statuses:           []store.Status{store.StatusPending},
		ExecutorID:         e.cfg.ExecutorID,
		ApplicationVersion: e.cfg.ApplicationVersion,
	})
	if err != nil {
		return fmt.Errorf("durable: recovery: %w", err)
	}
	for _, wf := range pending {
		if err := e.recoverOne(ctx, wf); err != nil {
			return fmt.Errorf("durable: recover %s: %w", wf.ID, err)
		}
	}
	return nil
}

func (e *Engine) recoverOne(ctx context.Context, wf store.Workflow) error {
	reg := e.registered(wf.Name)
	if reg == nil {
		e.log.Warn("durable: not recovering a workflow whose name is not registered; it stays PENDING",
			"workflow", wf.ID, "name", wf.Name)
		return nil
	}
	if e.activeRun(wf.ID) != nil {
		return nil
	}
	if wf.QueueName != "" {
		return e.requeue(ctx, reg, wf)
	}
	wf, err := e.store.RecoverWorkflow(ctx, store.RecoverParams{
		WorkflowID: wf.ID, ExecutorID: e.cfg.ExecutorID, MaxAttempts: reg.maxRecovery, Now: e.now(),
	})
	if err != nil {
		return err
	}
	switch wf.Status {
	case store.StatusMaxRecoveryAttemptsExceeded:
		e.log.Error("durable: workflow exceeded its maximum recovery attempts; it will not run again",
			"workflow", wf.ID, "name", wf.Name, "attempts", wf.RecoveryAttempts)
		return nil
	case store.StatusPending:
	default:
		return nil // finished meanwhile, elsewhere
	}
	steps, err := e.store.Steps(ctx, wf.ID)
	if err != nil {
		return err
	}
	e.log.Info("durable: recovering workflow", "workflow", wf.ID, "name", wf.Name, "recorded_steps", len(steps))
	_, _, err = e.launch(reg, wf, steps)
	return err
}

// requeue puts a queued workflow back in its queue for recovery.
func (e *Engine) requeue(ctx context.Context, reg *registration, wf store.Workflow) error {
	wf, err := e.store.Requeue(ctx, store.RequeueParams{WorkflowID: wf.ID, MaxAttempts: reg.maxRecovery, Now: e.now()})
	if err != nil {
		return err
	}
	switch wf.Status {
	case store.StatusMaxRecoveryAttemptsExceeded:
		e.log.Error("durable: workflow exceeded its maximum recovery attempts; it will not run again",
			"workflow", wf.ID, "name", wf.Name, "attempts", wf.RecoveryAttempts)
	case store.StatusEnqueued:
		e.log.Info("durable: recovering workflow through its queue", "workflow", wf.ID, "name", wf.Name, "queue", wf.QueueName)
	}
	return nil
}
