package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// The scheduler is one goroutine per launched engine. It reads the
// schedules, starts the ticks that are due, and sleeps until the next
// tick of any schedule it serves, or until the schedules change: a
// change by this process wakes it at once, one by another process
// through the store's watch, or at the latest after schedulePoll. An
// engine with no schedules wakes only for that poll.
//
// Each tick is a workflow with an ID made of the schedule's name and the
// tick's time, so of the engines that start it, the database lets one
// create it and run it; the others find it exists and do nothing. Ticks
// go by the engine's clock (Config.Now), as durable sleeps do: machines
// whose clocks differ start a tick when the earliest of them reaches it,
// still once.

const (
	// schedulePoll bounds how long a schedule created or resumed by
	// another process can go unseen: on SQLite the scheduler's watch
	// does not make the store look for other processes' commits (an
	// idle engine keeps no poll of them running). Its ticks due
	// meanwhile are started late, not skipped: see pass. A pause or a
	// delete is seen at the next tick, which reads the schedules first.
	schedulePoll = 10 * time.Second
	// scheduleRetry is the pause after the database failed the scheduler.
	scheduleRetry = time.Second
	// maxCatchUp bounds the overdue ticks of one schedule started in one
	// pass, after the process stalled (a machine that slept): older
	// ones are skipped.
	maxCatchUp = 60
	// maxMissedScan bounds how many missed ticks the first pass counts
	// per schedule.
	maxMissedScan = 1_000_000
)

// scheduler serves the schedules of the system database in one engine.
type scheduler struct {
	e    *Engine
	kick chan struct{}
	// cursors holds, per schedule, the tick up to which this engine is
	// done with it; only the loop uses it.
	cursors map[string]time.Time
}

func newScheduler(e *Engine) *scheduler {
	return &scheduler{e: e, kick: make(chan struct{}, 1), cursors: map[string]time.Time{}}
}

// wake makes the scheduler read the schedules again soon.
func (s *scheduler) wake() { signal(s.kick) }

// startScheduler writes the schedules defined at registration to the
// system database — so that pauses, listings and triggers treat them as
// any other, and every engine shares their state — and starts the loop.
func (e *Engine) startScheduler(ctx context.Context) error {
	var errs []error
	for _, name := range e.registeredNames() {
		reg := e.registered(name)
		if reg.schedule == nil {
			continue
		}
		zone := reg.schedule.opts.zone
		if zone == "" {
			zone = "UTC"
		}
		_, _, err := e.store.CreateSchedule(ctx, store.ScheduleParams{Name: name, Workflow: name,
			Spec: reg.schedule.spec, Zone: zone, Replace: true, Now: e.now()})
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: write schedule %q: %w", ErrSystemDatabase, name, err))
		}
	}
	e.loops.Go(func() { e.sched.loop(e.life) })
	return errors.Join(errs...)
}

func (s *scheduler) loop(ctx context.Context) {
	var changed <-chan struct{}
	poll := schedulePoll
	if w, ok := s.e.store.(store.Watcher); ok {
		ch, stop := w.Watch(ctx, store.WatchParams{Keys: []string{store.KeySchedules()}, Background: true})
		defer stop()
		changed = ch
	} else {
		poll = scheduleRetry
	}
	start := s.e.now()
	first := true
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := poll
		list, err := s.e.store.ListSchedules(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.e.log.Error("durable: read schedules", "err", err)
			wait = scheduleRetry
		default:
			if first {
				s.backfill(ctx, list, start)
				first = false
			}
			if next, ok := s.pass(ctx, list, start); !ok {
				wait = scheduleRetry
			} else if !next.IsZero() {
				wait = min(wait, next.Sub(s.e.now()))
			}
		}
		timer.Reset(max(wait, 0))
		select {
		case <-timer.C:
		case <-changed:
		case <-s.kick:
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

// served returns the parsed schedule and the workflow of sc if this
// engine serves it: it is active, parses here, and its workflow is
// registered here with a time.Time input. Other engines serve the rest.
func (s *scheduler) served(sc store.Schedule) (*cronSchedule, *registration) {
	if sc.Paused {
		return nil, nil
	}
	c, err := parseSchedule(sc.Name, sc.Spec, sc.Zone)
	if err != nil {
		s.e.warnOnce("schedule:"+sc.Name, "durable: schedule cannot run in this engine", "schedule", sc.Name, "err", err)
		return nil, nil
	}
	reg := s.e.registered(sc.Workflow)
	if reg == nil {
		return nil, nil
	}
	if reg.input != timeType { // created by a Client, which cannot check
		s.e.warnOnce("schedule:"+sc.Name, "durable: schedule cannot run: its workflow does not take a time.Time",
			"schedule", sc.Name, "workflow", sc.Workflow, "input", reg.input.String())
		return nil, nil
	}
	return c, reg
}

// pass starts the due ticks of every schedule this engine serves and
// returns the earliest next tick (zero if none), and false if the
// database failed a start, which the next pass tries again.
func (s *scheduler) pass(ctx context.Context, list []store.Schedule, start time.Time) (time.Time, bool) {
	var earliest time.Time
	ok := true
	seen := make(map[string]bool, len(list))
	now := s.e.now()
	for _, sc := range list {
		seen[sc.Name] = true
		c, reg := s.served(sc)
		if c == nil {
			delete(s.cursors, sc.Name) // when it is served again, it starts afresh
			continue
		}
		cur, known := s.cursors[sc.Name]
		if !known {
			cur = later(start, sc.CreatedAt)
		}
		cur = later(cur, sc.DoneThrough) // ticks started elsewhere, or skipped by a resume
		for n := 0; ; n++ {
			tick := c.next(cur)
			if tick.IsZero() {
				break
			}
			if tick.After(now) {
				if earliest.IsZero() || tick.Before(earliest) {
					earliest = tick
				}
				break
			}
			if n == maxCatchUp {
				s.e.log.Warn("durable: schedule fell behind; skipping its overdue ticks", "schedule", sc.Name, "from", tick)
				cur = now
				continue
			}
			if err := s.fire(ctx, sc.Name, c, reg, tick); err != nil {
				ok = false
				break
			}
			cur = tick
		}
		s.cursors[sc.Name] = cur
	}
	for name := range s.cursors {
		if !seen[name] {
			delete(s.cursors, name)
		}
	}
	return earliest, ok
}

// fire starts the workflow of one tick, unless an engine did already.
// The engine that starts it records the tick as done.
func (s *scheduler) fire(ctx context.Context, name string, c *cronSchedule, reg *registration, tick time.Time) error {
	id := tickID(name, tick)
	_, r, err := s.e.start(ctx, reg, tick.In(c.loc), startOptions{id: id, idGiven: true})
	if err != nil {
		if ctx.Err() == nil {
			s.e.log.Error("durable: start a scheduled workflow", "schedule", name, "workflow", id, "err", err)
		}
		return err
	}
	if r != nil { // it runs here: this engine created it
		if err := s.e.store.AdvanceSchedule(ctx, name, tick); err != nil && ctx.Err() == nil {
			s.e.log.Warn("durable: record a schedule's tick", "schedule", name, "tick", tick, "err", err)
		}
	}
	return nil
}

// backfill deals with the ticks each schedule missed while no engine
// ran: those after its last tick (or its creation) up to start. It
// starts the latest Config.BackfillTicks of them and skips the rest,
// which it logs.
func (s *scheduler) backfill(ctx context.Context, list []store.Schedule, start time.Time) {
	n := s.e.cfg.BackfillTicks
	for _, sc := range list {
		c, reg := s.served(sc)
		if c == nil {
			continue
		}
		var missed []time.Time // the latest n, oldest first
		count := 0
		for t := c.next(later(sc.CreatedAt, sc.DoneThrough)); !t.IsZero() && !t.After(start) && count < maxMissedScan; t = c.next(t) {
			count++
			if n == 0 {
				continue
			}
			if len(missed) == n {
				missed = missed[1:]
			}
			missed = append(missed, t)
		}
		if count == 0 {
			continue
		}
		s.e.log.Info("durable: schedule missed ticks while no engine ran", "schedule", sc.Name,
			"missed", count, "backfilled", len(missed), "skipped", count-len(missed))
		for _, t := range missed {
			if s.fire(ctx, sc.Name, c, reg, t) != nil {
				return
			}
		}
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
