package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// scheduleWait bounds any one wait for a tick.
const scheduleWait = 10 * time.Second

// ticker is a scheduled workflow that reports each time it is called
// with, and returns it.
func ticker(ticks chan<- time.Time) func(context.Context, time.Time) (string, error) {
	return func(_ context.Context, scheduled time.Time) (string, error) {
		ticks <- scheduled
		return scheduled.UTC().Format(time.RFC3339Nano), nil
	}
}

// nextTick waits for the workflow to report a tick.
func nextTick(t *testing.T, ticks <-chan time.Time) time.Time {
	t.Helper()
	select {
	case tick := <-ticks:
		return tick
	case <-time.After(scheduleWait):
		t.Fatalf("no tick within %v", scheduleWait)
		return time.Time{}
	}
}

// noTickAfter drains the ticks reported during d and fails on one
// scheduled after cutoff: a tick read before a pause (or a delete)
// committed may still start, but no later one.
func noTickAfter(t *testing.T, ticks <-chan time.Time, cutoff time.Time, d time.Duration) {
	t.Helper()
	end := time.After(d)
	for {
		select {
		case tick := <-ticks:
			if tick.After(cutoff) {
				t.Fatalf("tick %v ran; none after %v should", tick, cutoff)
			}
		case <-end:
			return
		}
	}
}

// tickIDs returns the IDs of the workflows started for a schedule.
func tickIDs(t *testing.T, s store.Store, name string) []string {
	t.Helper()
	wfs, err := s.ListWorkflows(t.Context(), store.ListParams{IDPrefix: "sched-" + name + "-"})
	if err != nil {
		t.Fatalf("list ticks of %s: %v", name, err)
	}
	ids := make([]string, len(wfs))
	for i, wf := range wfs {
		ids[i] = wf.ID
	}
	return ids
}

func TestScheduleBadInput(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	cases := []struct {
		name string
		spec string
		opts []durable.ScheduleOption
	}{
		{"second out of range", "61 * * * * *", nil},
		{"not cron", "not cron", nil},
		{"five fields", "* * * * *", nil},
		{"never", "0 0 0 30 2 *", nil},
		{"zone in the expression", "CRON_TZ=Europe/Paris 0 0 * * * *", nil},
		{"unknown zone", "* * * * * *", []durable.ScheduleOption{durable.InZoneNamed("Mars/Base")}},
		{"local zone", "* * * * * *", []durable.ScheduleOption{durable.InZone(time.Local)}},
	}
	v := setup(t)
	e := v.engine()
	register(t, e, "ok", ticker(make(chan time.Time, 1)), durable.WithSchedule("0 0 12 * * *", durable.InZone(paris)))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			_, err := durable.Register(e, "bad "+c.name, ticker(nil), durable.WithSchedule(c.spec, c.opts...))
			var se *durable.ScheduleError
			is.True(errors.As(err, &se))                        // Register refuses it with a *ScheduleError
			is.True(errors.Is(err, durable.ErrInvalidSchedule)) // matching ErrInvalidSchedule
			is.Equal(se.Spec, c.spec)                           // naming the expression
			t.Log(err)

			err = e.CreateSchedule(t.Context(), "bad "+c.name, "ok", c.spec, c.opts...)
			is.True(errors.As(err, &se)) // so does CreateSchedule
		})
	}
	t.Run("input other than time.Time", func(t *testing.T) {
		is := is.New(t)
		_, err := durable.Register(e, "takes int", func(context.Context, int) (int, error) { return 0, nil },
			durable.WithSchedule("* * * * * *"))
		is.True(errors.Is(err, durable.ErrInvalidSchedule)) // a scheduled workflow takes a time.Time
		t.Log(err)
	})
	t.Run("unknown workflow", func(t *testing.T) {
		is := is.New(t)
		err := e.CreateSchedule(t.Context(), "typo", "no such workflow", "* * * * * *")
		is.True(errors.Is(err, durable.ErrUnknownWorkflow)) // a name no engine registered
	})

	is := is.New(t)
	launch(t, e)
	list, err := e.ListSchedules(t.Context())
	is.NoErr(err)
	is.Equal(len(list), 1) // only the good one is recorded
	is.Equal(list[0].Name, "ok")
	is.Equal(list[0].Zone, "Europe/Paris")
	next := list[0].Next.In(paris)
	is.Equal([3]int{next.Hour(), next.Minute(), next.Second()}, [3]int{12, 0, 0}) // noon in Paris, not in UTC
}

func TestScheduleAtRunTime(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	ticks := make(chan time.Time, 100)
	register(t, e, "tick", ticker(ticks))
	launch(t, e)
	ctx := t.Context()

	is.NoErr(e.CreateSchedule(ctx, "every", "tick", "* * * * * *"))
	err := e.CreateSchedule(ctx, "every", "tick", "*/2 * * * * *")
	is.True(errors.Is(err, durable.ErrScheduleExists)) // one schedule per name

	// A tick runs with its scheduled time, under the ID made of it.
	tick := nextTick(t, ticks)
	is.Equal(tick, tick.Truncate(time.Second)) // a whole second
	h, err := durable.Retrieve[string](ctx, e, "sched-every-"+tick.UTC().Format(time.RFC3339))
	is.NoErr(err)
	out, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(out, tick.UTC().Format(time.RFC3339Nano)) // the workflow received the tick's time

	list, err := e.ListSchedules(ctx)
	is.NoErr(err)
	is.Equal(len(list), 1)
	is.Equal(list[0].Name, "every")
	is.Equal(list[0].Workflow, "tick")
	is.True(!list[0].Paused)
	is.True(list[0].Next.After(tick)) // a next tick

	// Paused, it starts nothing.
	is.NoErr(e.PauseSchedule(ctx, "every"))
	pausedAt := time.Now()
	list, err = e.ListSchedules(ctx)
	is.NoErr(err)
	is.True(list[0].Paused)
	is.True(list[0].Next.IsZero()) // no next tick while paused
	noTickAfter(t, ticks, pausedAt, 2500*time.Millisecond)
	for _, id := range tickIDs(t, v.open(), "every") {
		started, err := time.Parse(time.RFC3339, strings.TrimPrefix(id, "sched-every-"))
		is.NoErr(err)
		is.True(!started.After(pausedAt)) // no workflow for a tick of the pause
	}

	// Resumed, it ticks again, from the next tick on.
	is.NoErr(e.ResumeSchedule(ctx, "every"))
	resumedAt := time.Now()
	for tick = nextTick(t, ticks); !tick.After(pausedAt); tick = nextTick(t, ticks) {
	}
	is.True(tick.After(resumedAt.Add(-time.Second))) // not a tick of the pause

	// Triggered, it runs now, paused or not.
	is.NoErr(e.PauseSchedule(ctx, "every"))
	id, err := e.TriggerSchedule(ctx, "every")
	is.NoErr(err)
	is.True(strings.HasPrefix(id, "sched-every-trigger-")) // a trigger's own ID
	h, err = durable.Retrieve[string](ctx, e, id)
	is.NoErr(err)
	_, err = h.Result(ctx)
	is.NoErr(err) // the triggered run completes

	// Deleted, it is gone.
	is.NoErr(e.DeleteSchedule(ctx, "every"))
	list, err = e.ListSchedules(ctx)
	is.NoErr(err)
	is.Equal(len(list), 0)
	for _, op := range []func() error{
		func() error { return e.DeleteSchedule(ctx, "every") },
		func() error { return e.PauseSchedule(ctx, "every") },
		func() error { return e.ResumeSchedule(ctx, "every") },
		func() error { _, err := e.TriggerSchedule(ctx, "every"); return err },
	} {
		is.True(errors.Is(op(), durable.ErrScheduleNotFound)) // every operation on it says so
	}
}

// TestScheduleBackfill: ticks missed while no engine ran are skipped, or
// the latest of them started with Config.BackfillTicks.
func TestScheduleBackfill(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	hourly := func(e *durable.Engine) {
		register(t, e, "hourly", ticker(make(chan time.Time, 10)), durable.WithSchedule("0 0 * * * *"))
	}
	// The schedule is written, then no engine runs for three hours: the
	// later engines run three hours ahead.
	a := v.engine()
	hourly(a)
	launch(t, a)
	is.NoErr(a.Shutdown(t.Context()))
	ahead := func(c *durable.Config) { c.Now = func() time.Time { return time.Now().Add(3 * time.Hour) } }

	// By default the missed ticks are skipped.
	b := v.engine(ahead)
	hourly(b)
	launch(t, b)
	waitFor(t, "the missed ticks to be reported", func() bool {
		return strings.Contains(v.log.String(), "missed ticks") && strings.Contains(v.log.String(), "skipped=3")
	})
	is.NoErr(b.Shutdown(t.Context()))
	is.Equal(len(tickIDs(t, v.open(), "hourly")), 0) // none started

	// With BackfillTicks, the latest ones start.
	c := v.engine(ahead, func(c *durable.Config) { c.BackfillTicks = 2 })
	hourly(c)
	launch(t, c)
	last := time.Now().Add(3 * time.Hour).Truncate(time.Hour)
	want := []string{
		"sched-hourly-" + last.Add(-time.Hour).UTC().Format(time.RFC3339),
		"sched-hourly-" + last.UTC().Format(time.RFC3339),
	}
	waitFor(t, "the backfill", func() bool { return len(tickIDs(t, v.open(), "hourly")) >= 2 })
	is.Equal(tickIDs(t, v.open(), "hourly"), want) // the last two of the three, and only they
	for _, id := range want {
		h, err := durable.Retrieve[string](t.Context(), c, id)
		is.NoErr(err)
		out, err := h.Result(t.Context())
		is.NoErr(err)                                          // the backfilled tick runs
		is.Equal(out, strings.TrimPrefix(id, "sched-hourly-")) // with its scheduled time
	}
}

// TestScheduleSharedThroughTheDatabase: a schedule created, paused and
// deleted by a Client, which has a database connection of its own, is
// served accordingly by an engine; ticks due before the engine noticed
// the new schedule are started late, not skipped.
func TestScheduleSharedThroughTheDatabase(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	ticks := make(chan time.Time, 100)
	register(t, e, "tick", ticker(ticks))
	launch(t, e)
	ctx := t.Context()
	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: v.url})
	is.NoErr(err)
	defer c.Close()

	is.NoErr(c.CreateSchedule(ctx, "shared", "tick", "* * * * * *"))
	created := time.Now()
	select {
	case <-ticks:
	case <-time.After(15 * time.Second): // the engine looks at least every 10 s
		t.Fatal("the engine did not serve the client's schedule within 15 s")
	}
	ids := tickIDs(t, v.open(), "shared") // oldest first: a pass starts the ticks in order
	is.True(len(ids) > 0)
	first, err := time.Parse(time.RFC3339, strings.TrimPrefix(ids[0], "sched-shared-"))
	is.NoErr(err)
	is.True(!first.After(created.Truncate(time.Second).Add(time.Second))) // the first tick after the creation, however late it was seen

	is.NoErr(c.PauseSchedule(ctx, "shared"))
	pausedAt := time.Now()
	list, err := c.ListSchedules(ctx)
	is.NoErr(err)
	is.Equal(len(list), 1)
	is.True(list[0].Paused) // the client sees the pause it made
	noTickAfter(t, ticks, pausedAt, 2500*time.Millisecond)
	is.NoErr(c.DeleteSchedule(ctx, "shared"))
	is.True(errors.Is(c.DeleteSchedule(ctx, "shared"), durable.ErrScheduleNotFound))
	is.True(errors.Is(c.CreateSchedule(ctx, "bad", "tick", "61 * * * * *"), durable.ErrInvalidSchedule))
}

// TestScheduleDescriptors: descriptors parse, and @every ticks at the
// multiples of its period since the Unix epoch, the same in every
// engine whenever it started.
func TestScheduleDescriptors(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	register(t, e, "tick", ticker(make(chan time.Time, 1)))
	ctx := t.Context()
	is.NoErr(e.CreateSchedule(ctx, "every", "tick", "@every 7s"))
	is.NoErr(e.CreateSchedule(ctx, "hourly", "tick", "@hourly"))
	now := time.Now()
	list, err := e.ListSchedules(ctx)
	is.NoErr(err)
	is.Equal(len(list), 2)
	is.Equal(list[0].Next.Unix()%7, int64(0))                           // a multiple of 7 s
	is.True(list[0].Next.Sub(now) <= 7*time.Second)                     // the next one
	is.True(list[1].Next.Equal(now.Truncate(time.Hour).Add(time.Hour))) // the next whole hour
}
