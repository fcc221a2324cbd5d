package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

func scheduleParams(name, spec string, n int) store.ScheduleParams {
	return store.ScheduleParams{Name: name, Workflow: "main.Report", Spec: spec, Zone: "UTC", Now: at(n)}
}

func testSchedules(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	ctx := t.Context()
	list, err := s.ListSchedules(ctx)
	is.NoErr(err)          // list an empty store
	is.Equal(len(list), 0) // no schedules yet

	sc, created, err := s.CreateSchedule(ctx, scheduleParams("nightly", "0 0 3 * * *", 1))
	is.NoErr(err) // create
	is.True(created)
	is.Equal(sc, store.Schedule{Name: "nightly", Workflow: "main.Report", Spec: "0 0 3 * * *", Zone: "UTC",
		CreatedAt: at(1), UpdatedAt: at(1)}) // stored as given, active, never ticked

	// A second create without Replace changes nothing.
	again := scheduleParams("nightly", "* * * * * *", 2)
	sc, created, err = s.CreateSchedule(ctx, again)
	is.NoErr(err)                    // create again
	is.True(!created)                // not created
	is.Equal(sc.Spec, "0 0 3 * * *") // the first definition stays
	is.Equal(sc.UpdatedAt, at(1))    // untouched

	// Ticks advance DoneThrough, never backwards; a missing schedule is
	// no error.
	is.NoErr(s.AdvanceSchedule(ctx, "nightly", at(10)))
	is.NoErr(s.AdvanceSchedule(ctx, "nightly", at(5)))
	is.NoErr(s.AdvanceSchedule(ctx, "nobody", at(5)))
	sc, err = s.GetSchedule(ctx, "nightly")
	is.NoErr(err)
	is.Equal(sc.DoneThrough, at(10)) // the latest tick

	// Pause; a second pause changes nothing.
	sc, err = s.PauseSchedule(ctx, store.SchedulePauseParams{Name: "nightly", Paused: true, Now: at(20)})
	is.NoErr(err)
	is.True(sc.Paused)
	is.Equal(sc.DoneThrough, at(10)) // a pause keeps DoneThrough
	sc, err = s.PauseSchedule(ctx, store.SchedulePauseParams{Name: "nightly", Paused: true, Now: at(21)})
	is.NoErr(err)
	is.Equal(sc.UpdatedAt, at(20)) // the second pause changed nothing

	// Replace keeps the pause and DoneThrough.
	again.Replace, again.Zone = true, "Europe/Paris"
	sc, created, err = s.CreateSchedule(ctx, again)
	is.NoErr(err)
	is.True(!created)
	is.Equal(sc, store.Schedule{Name: "nightly", Workflow: "main.Report", Spec: "* * * * * *", Zone: "Europe/Paris",
		Paused: true, DoneThrough: at(10), CreatedAt: at(1), UpdatedAt: at(2)}) // new definition, same state

	// Resume skips the ticks of the pause.
	sc, err = s.PauseSchedule(ctx, store.SchedulePauseParams{Name: "nightly", Paused: false, Now: at(30)})
	is.NoErr(err)
	is.True(!sc.Paused)
	is.Equal(sc.DoneThrough, at(30)) // ticks before the resume are done with
	sc, err = s.PauseSchedule(ctx, store.SchedulePauseParams{Name: "nightly", Paused: false, Now: at(40)})
	is.NoErr(err)
	is.Equal(sc.DoneThrough, at(30)) // resuming an active schedule changes nothing

	_, _, err = s.CreateSchedule(ctx, scheduleParams("hourly", "0 0 * * * *", 3))
	is.NoErr(err)
	list, err = s.ListSchedules(ctx)
	is.NoErr(err)
	is.Equal(len(list), 2)
	is.Equal([]string{list[0].Name, list[1].Name}, []string{"hourly", "nightly"}) // by name

	is.NoErr(s.DeleteSchedule(ctx, "hourly"))
	err = s.DeleteSchedule(ctx, "hourly")
	is.True(errors.Is(err, store.ErrScheduleNotFound)) // deleted already
	_, err = s.GetSchedule(ctx, "hourly")
	is.True(errors.Is(err, store.ErrScheduleNotFound)) // gone
	_, err = s.PauseSchedule(ctx, store.SchedulePauseParams{Name: "hourly", Paused: true})
	is.True(errors.Is(err, store.ErrScheduleNotFound)) // nothing to pause
	list, err = s.ListSchedules(ctx)
	is.NoErr(err)
	is.Equal(len(list), 1) // the other stays

	// The database's clock when Now is zero.
	before := time.Now().Add(-time.Minute)
	sc, _, err = s.CreateSchedule(ctx, store.ScheduleParams{Name: "clock", Workflow: "w", Spec: "* * * * * *", Zone: "UTC"})
	is.NoErr(err)
	is.True(sc.CreatedAt.After(before)) // stamped by the database
}

// testScheduleWatch checks that schedule changes wake KeySchedules.
func testScheduleWatch(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	w, ok := s.(store.Watcher)
	if !ok {
		t.Skip("this store does not implement store.Watcher; the engine polls it")
	}
	is := is.New(t)
	for _, c := range []struct {
		what  string
		write func() error
	}{
		{"create", func() error {
			_, _, err := s.CreateSchedule(t.Context(), scheduleParams("s", "* * * * * *", 1))
			return err
		}},
		{"pause", func() error {
			_, err := s.PauseSchedule(t.Context(), store.SchedulePauseParams{Name: "s", Paused: true})
			return err
		}},
		{"delete", func() error { return s.DeleteSchedule(t.Context(), "s") }},
	} {
		ch, stop := w.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeySchedules()}})
		is.NoErr(c.write()) // the change
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no wake-up for a schedule %s within 5 s", c.what)
		}
		stop()
	}
}
