package durable

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/dboslite/dboslite/store"
)

const sleepStep = "durable.sleep"

// Sleep pauses the workflow for d, durably: the wake-up time is recorded
// before it sleeps, so after a restart it sleeps only what is left. A zero
// or negative d returns at once and records nothing.
//
// A sleep longer than Config.SuspendSleepsOver suspends the workflow: its
// goroutine unwinds (deferred calls run, and durable operations in them
// do nothing) and the workflow function is replayed from its recorded
// steps when the sleep is due, exactly as after a restart. So a workflow
// sleeping for hours holds no goroutine. Sleep works only in the workflow
// function, on its goroutine.
func Sleep(ctx context.Context, d time.Duration) error {
	st := stateFrom(ctx)
	if st == nil {
		return fmt.Errorf("%w: Sleep", ErrNotInWorkflow)
	}
	if inStep(ctx) {
		return fmt.Errorf("%w: Sleep", ErrInStep)
	}
	if d <= 0 {
		return nil
	}
	wake, err := st.wakeTime(ctx, d)
	if err != nil {
		return err
	}
	left := wake.Sub(st.eng.now())
	if left <= 0 {
		return nil
	}
	if t := st.eng.cfg.SuspendSleepsOver; t >= 0 && left > t {
		st.mu.Lock()
		st.wakeAt = wake
		st.mu.Unlock()
		runtime.Goexit() // execute's deferred call parks the run until wake
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// wakeTime records, as a step, the time a sleep of d ends, or returns the
// time recorded by an earlier run.
func (s *wfState) wakeTime(ctx context.Context, d time.Duration) (time.Time, error) {
	n, rec, ok, err := s.next()
	if err != nil {
		return time.Time{}, err
	}
	if ok {
		if err := s.check(n, rec, sleepStep); err != nil {
			return time.Time{}, err
		}
		ms, err := strconv.ParseInt(string(rec.Output), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: wake-up time of step %d of %s: %v", ErrDecode, n, s.id, err)
		}
		return time.UnixMilli(ms), nil
	}
	now := s.eng.now()
	wake := now.Add(d)
	step := store.Step{WorkflowID: s.id, StepID: n, Name: sleepStep, StartedAt: now, CompletedAt: now,
		Output: strconv.AppendInt(nil, wake.UnixMilli(), 10)}
	if err := s.record(ctx, step); err != nil {
		return time.Time{}, err
	}
	return wake, nil
}
