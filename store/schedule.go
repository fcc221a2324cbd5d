package store

import (
	"context"
	"errors"
	"time"
)

// ErrScheduleNotFound is returned for a schedule name that names no
// schedule.
var ErrScheduleNotFound = errors.New("store: schedule not found")

// Schedule is a cron schedule of a workflow, kept in the system database
// and shared by every process using it. The store keeps its text; the
// engine parses it.
type Schedule struct {
	Name     string
	Workflow string // the name of the workflow each tick starts
	Spec     string // the cron expression, with seconds
	Zone     string // the IANA name of the time zone Spec is read in
	Paused   bool
	// DoneThrough is the time through which every tick was started or
	// deliberately skipped (a resume skips the ticks of the pause); zero
	// until the first tick.
	DoneThrough time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ScheduleParams define a schedule.
type ScheduleParams struct {
	Name     string
	Workflow string
	Spec     string
	Zone     string
	// Replace replaces the definition (Workflow, Spec, Zone) of a schedule
	// of that name that exists; it keeps whether it is paused and its
	// DoneThrough.
	Replace bool
	Now     time.Time
}

// SchedulePauseParams pause or resume a schedule.
type SchedulePauseParams struct {
	Name   string
	Paused bool
	Now    time.Time
}

// Schedules are the methods of Store that keep cron schedules. Each
// method that changes which schedules exist, or their definitions or
// pauses, wakes KeySchedules.
type Schedules interface {
	// CreateSchedule inserts a schedule, active, unless one of that name
	// exists. It returns the row as stored and whether this call created
	// it: without p.Replace an existing schedule is returned untouched,
	// with it its definition is replaced (see ScheduleParams.Replace).
	CreateSchedule(ctx context.Context, p ScheduleParams) (Schedule, bool, error)

	// GetSchedule returns the schedule of that name, or
	// ErrScheduleNotFound.
	GetSchedule(ctx context.Context, name string) (Schedule, error)

	// ListSchedules returns every schedule, ordered by name.
	ListSchedules(ctx context.Context) ([]Schedule, error)

	// PauseSchedule pauses a schedule or resumes it, and returns the row
	// after the call. Resuming a paused schedule sets its DoneThrough to
	// p.Now unless it is later, so the ticks of the pause are never
	// started late. Pausing a
	// paused schedule, or resuming an active one, changes nothing.
	// Returns ErrScheduleNotFound if no schedule has that name.
	PauseSchedule(ctx context.Context, p SchedulePauseParams) (Schedule, error)

	// DeleteSchedule deletes a schedule. Returns ErrScheduleNotFound if
	// no schedule has that name. The workflows its ticks started stay.
	DeleteSchedule(ctx context.Context, name string) error

	// AdvanceSchedule records that the ticks of a schedule through tick
	// were started: its DoneThrough becomes tick unless it is later
	// already. A schedule that does not exist is not an error.
	AdvanceSchedule(ctx context.Context, name string, tick time.Time) error
}

// KeySchedules names the set of schedules: CreateSchedule, PauseSchedule
// and DeleteSchedule wake it.
func KeySchedules() string { return "r" + keySep + "schedules" }
