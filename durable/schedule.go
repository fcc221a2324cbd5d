package durable

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dboslite/dboslite/store"
)

// Schedules start a workflow on a cron expression. Each tick starts the
// workflow with the ID "sched-<schedule>-<tick in UTC, RFC 3339>", so the
// database, which admits one workflow per ID, runs each tick exactly once
// however many engines serve the schedule. Schedules live in the system
// database: code-defined ones (WithSchedule) are written there at Launch,
// run-time ones by CreateSchedule, and every engine of the database reads
// them. The scheduler's loop is in scheduler.go.

var (
	// ErrInvalidSchedule is matched by the *ScheduleError of a schedule
	// that cannot work: a cron expression that does not parse, a time
	// zone this machine does not know, a workflow that does not take a
	// time.Time. Nothing is recorded.
	ErrInvalidSchedule = errors.New("durable: invalid schedule")
	// ErrScheduleNotFound is returned for a schedule name that names no
	// schedule.
	ErrScheduleNotFound = errors.New("durable: schedule does not exist")
	// ErrScheduleExists is returned by CreateSchedule for a name that
	// another schedule has.
	ErrScheduleExists = errors.New("durable: schedule already exists")
)

// ScheduleError reports a schedule that cannot work; it matches
// ErrInvalidSchedule.
type ScheduleError struct {
	Name   string // the schedule
	Spec   string // its cron expression
	Zone   string // its time zone, if given
	Reason string // what is wrong and what to do
	Err    error  // the parser's error, if any
}

// Error says which schedule is refused and why.
func (e *ScheduleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "durable: invalid schedule %q (cron %q", e.Name, e.Spec)
	if e.Zone != "" {
		fmt.Fprintf(&b, ", zone %q", e.Zone)
	}
	b.WriteString("): " + e.Reason)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidSchedule) true.
func (e *ScheduleError) Is(target error) bool { return target == ErrInvalidSchedule }

// Unwrap returns the parser's error.
func (e *ScheduleError) Unwrap() error { return e.Err }

// ScheduleOption configures a schedule. Make one with InZone or
// InZoneNamed.
type ScheduleOption struct{ apply func(*scheduleOptions) }

type scheduleOptions struct {
	zone string
	err  string // why the zone given is refused
}

// InZone reads the cron expression in loc, which must be a named zone of
// the IANA database (time.LoadLocation(loc.String()) must find it):
// every engine of the database loads the zone by that name. Defaults to
// UTC. time.Local is refused, as machines may not agree on it.
func InZone(loc *time.Location) ScheduleOption {
	return ScheduleOption{func(o *scheduleOptions) {
		switch {
		case loc == nil:
			o.zone, o.err = "<nil>", "InZone(nil): give a *time.Location"
		case loc == time.Local:
			o.zone, o.err = "Local", "the Local zone differs between machines: name the zone (time.LoadLocation)"
		default:
			o.zone = loc.String()
		}
	}}
}

// InZoneNamed reads the cron expression in the IANA time zone of that
// name, such as "Europe/Paris". Defaults to UTC.
func InZoneNamed(name string) ScheduleOption {
	return ScheduleOption{func(o *scheduleOptions) { o.zone = name }}
}

// cronParser reads cron expressions with seconds: six fields, or a
// descriptor such as @hourly or @every 10s.
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronSchedule is a parsed schedule.
type cronSchedule struct {
	loc   *time.Location
	sched cron.Schedule
}

// next returns the first tick after t, in the schedule's zone, or the
// zero time if there is none within five years. @every ticks at the
// multiples of its period since the Unix epoch, so that every engine
// computes the same ticks.
func (c *cronSchedule) next(t time.Time) time.Time {
	if d, ok := c.sched.(cron.ConstantDelaySchedule); ok {
		period := int64(d.Delay)
		return time.Unix(0, (t.UnixNano()/period+1)*period).In(c.loc)
	}
	return c.sched.Next(t.In(c.loc))
}

// parseSchedule reads a schedule's expression and zone ("" for UTC).
func parseSchedule(name, spec, zone string) (*cronSchedule, error) {
	bad := func(reason string, err error) error {
		return &ScheduleError{Name: name, Spec: spec, Zone: zone, Reason: reason, Err: err}
	}
	if name == "" {
		return nil, bad("the name is empty", nil)
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, bad("give the time zone with InZone, not in the expression", nil)
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return nil, bad("unknown time zone: give an IANA name such as \"Europe/Paris\"", err)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, bad("give six fields, seconds first (\"*/5 * * * * *\"), or a descriptor (\"@hourly\")", err)
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	c := &cronSchedule{loc: loc, sched: s}
	if c.next(time.Now()).IsZero() {
		return nil, bad("the expression never matches", nil)
	}
	return c, nil
}

// timeType is the input type of a scheduled workflow.
var timeType = reflect.TypeFor[time.Time]()

// codeSchedule is a schedule given at registration.
type codeSchedule struct {
	spec string
	opts scheduleOptions
}

// WithSchedule runs the workflow on a cron expression with seconds —
// "*/5 * * * * *" is every five seconds, "0 30 2 * * *" every day at
// 2:30 — or a descriptor such as "@hourly" or "@every 10s", read in UTC
// unless InZone says otherwise. The workflow must take the tick's time:
// register a func(ctx context.Context, scheduled time.Time) (Out, error).
// The schedule is named after the workflow and written to the system
// database at Launch, where PauseSchedule, ResumeSchedule and
// TriggerSchedule act on it; a Launch replaces its definition but keeps
// it paused if it was. Register returns a *ScheduleError for an
// expression or zone that cannot work.
func WithSchedule(spec string, opts ...ScheduleOption) RegisterOption {
	return RegisterOption{func(r *registration) {
		r.schedule = &codeSchedule{spec: spec, opts: scheduleOpts(opts)}
	}}
}

func scheduleOpts(opts []ScheduleOption) scheduleOptions {
	var o scheduleOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	return o
}

// checkSchedule returns why the schedule of reg, if it has one, cannot
// work.
func (r *registration) checkSchedule() error {
	if r.schedule == nil {
		return nil
	}
	return checkDefinition(r.name, r.schedule.spec, r.schedule.opts, r)
}

// checkDefinition returns why a schedule of workflow reg (nil if it is
// not registered here) cannot work.
func checkDefinition(name, spec string, o scheduleOptions, reg *registration) error {
	if o.err != "" {
		return &ScheduleError{Name: name, Spec: spec, Zone: o.zone, Reason: o.err}
	}
	if _, err := parseSchedule(name, spec, o.zone); err != nil {
		return err
	}
	if reg != nil && reg.input != timeType {
		return &ScheduleError{Name: name, Spec: spec, Zone: o.zone,
			Reason: fmt.Sprintf("workflow %q has input type %v: a scheduled workflow takes the tick's time.Time", reg.name, reg.input)}
	}
	return nil
}

// Schedule describes a schedule, as ListSchedules returns it.
type Schedule struct {
	Name     string
	Workflow string // the workflow each tick starts
	Spec     string // the cron expression
	Zone     string // the IANA time zone it is read in
	Paused   bool
	// LastTick is the latest tick started (or, after a resume, the time
	// of the resume); zero before the first.
	LastTick time.Time
	// Next is the next tick, zero while paused.
	Next      time.Time
	CreatedAt time.Time
}

// CreateSchedule makes a schedule, stored in the system database and run
// by every launched engine of it that registered the workflow, which
// must take a time.Time (see WithSchedule). A bad expression or zone is
// a *ScheduleError; a name in use, ErrScheduleExists; a workflow no
// engine of the database registered, ErrUnknownWorkflow. Nothing is
// recorded then. It works on an engine that is not launched, and on a
// Client.
func (e *Engine) CreateSchedule(ctx context.Context, name, workflow, spec string, opts ...ScheduleOption) error {
	o := scheduleOpts(opts)
	if err := checkDefinition(name, spec, o, e.registered(workflow)); err != nil {
		return err
	}
	if err := e.knownWorkflow(ctx, workflow); err != nil {
		return err
	}
	if o.zone == "" {
		o.zone = "UTC"
	}
	_, created, err := e.store.CreateSchedule(ctx, store.ScheduleParams{Name: name, Workflow: workflow, Spec: spec,
		Zone: o.zone, Now: e.now()})
	switch {
	case err != nil:
		return fmt.Errorf("%w: create schedule %q: %w", ErrSystemDatabase, name, err)
	case !created:
		return fmt.Errorf("%w: %q", ErrScheduleExists, name)
	}
	e.sched.wake()
	return nil
}

// ListSchedules returns every schedule of the system database, by name.
func (e *Engine) ListSchedules(ctx context.Context) ([]Schedule, error) {
	list, err := e.store.ListSchedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: list schedules: %w", ErrSystemDatabase, err)
	}
	now := e.now()
	out := make([]Schedule, len(list))
	for i, sc := range list {
		out[i] = Schedule{Name: sc.Name, Workflow: sc.Workflow, Spec: sc.Spec, Zone: sc.Zone, Paused: sc.Paused,
			LastTick: sc.DoneThrough, CreatedAt: sc.CreatedAt}
		if c, err := parseSchedule(sc.Name, sc.Spec, sc.Zone); err == nil && !sc.Paused {
			out[i].Next = c.next(now)
		}
	}
	return out, nil
}

// PauseSchedule stops a schedule from starting workflows, in every
// engine, until ResumeSchedule. Workflows already started go on.
func (e *Engine) PauseSchedule(ctx context.Context, name string) error {
	return e.pauseSchedule(ctx, name, true)
}

// ResumeSchedule starts a paused schedule again from its next tick: the
// ticks of the pause are skipped, even by Config.BackfillTicks.
func (e *Engine) ResumeSchedule(ctx context.Context, name string) error {
	return e.pauseSchedule(ctx, name, false)
}

func (e *Engine) pauseSchedule(ctx context.Context, name string, paused bool) error {
	_, err := e.store.PauseSchedule(ctx, store.SchedulePauseParams{Name: name, Paused: paused, Now: e.now()})
	if err != nil {
		return scheduleErr("pause schedule", name, err)
	}
	e.sched.wake()
	return nil
}

// DeleteSchedule deletes a schedule; the workflows it started stay. A
// schedule defined with WithSchedule comes back at the next Launch of an
// engine that defines it.
func (e *Engine) DeleteSchedule(ctx context.Context, name string) error {
	if err := e.store.DeleteSchedule(ctx, name); err != nil {
		return scheduleErr("delete schedule", name, err)
	}
	e.sched.wake()
	return nil
}

// TriggerSchedule starts the schedule's workflow now, as a tick would,
// with the current time as its scheduled time and the ID
// "sched-<schedule>-trigger-<now, RFC 3339 with nanoseconds>", which it
// returns (Retrieve gives a handle). It works on a paused schedule too.
// It needs a launched engine that registered the workflow.
func (e *Engine) TriggerSchedule(ctx context.Context, name string) (string, error) {
	if err := e.checkRunning(); err != nil {
		return "", err
	}
	sc, err := e.store.GetSchedule(ctx, name)
	if err != nil {
		return "", scheduleErr("trigger schedule", name, err)
	}
	c, err := parseSchedule(sc.Name, sc.Spec, sc.Zone)
	if err != nil {
		return "", err
	}
	reg := e.registered(sc.Workflow)
	if reg == nil {
		return "", fmt.Errorf("%w: trigger schedule %q: this engine did not register workflow %q", ErrUnknownWorkflow, name, sc.Workflow)
	}
	now := e.now()
	id := "sched-" + name + "-trigger-" + now.UTC().Format(time.RFC3339Nano)
	id, _, err = e.start(ctx, reg, now.In(c.loc), startOptions{id: id, idGiven: true})
	return id, err
}

// scheduleErr wraps an error of the store about schedule name.
func scheduleErr(what, name string, err error) error {
	if errors.Is(err, store.ErrScheduleNotFound) {
		return fmt.Errorf("%w: %q", ErrScheduleNotFound, name)
	}
	return fmt.Errorf("%w: %s %q: %w", ErrSystemDatabase, what, name, err)
}

// tickID is the ID of the workflow a schedule starts for a tick.
func tickID(name string, tick time.Time) string {
	return "sched-" + name + "-" + tick.UTC().Format(time.RFC3339)
}

// CreateSchedule is Engine.CreateSchedule.
func (c *Client) CreateSchedule(ctx context.Context, name, workflow, spec string, opts ...ScheduleOption) error {
	return c.e.CreateSchedule(ctx, name, workflow, spec, opts...)
}

// ListSchedules is Engine.ListSchedules.
func (c *Client) ListSchedules(ctx context.Context) ([]Schedule, error) {
	return c.e.ListSchedules(ctx)
}

// PauseSchedule is Engine.PauseSchedule.
func (c *Client) PauseSchedule(ctx context.Context, name string) error {
	return c.e.PauseSchedule(ctx, name)
}

// ResumeSchedule is Engine.ResumeSchedule.
func (c *Client) ResumeSchedule(ctx context.Context, name string) error {
	return c.e.ResumeSchedule(ctx, name)
}

// DeleteSchedule is Engine.DeleteSchedule.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	return c.e.DeleteSchedule(ctx, name)
}
