package durable_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// A heartbeat every second, defined in code, and a weekday report at 9:00
// in Paris, created at run time; then pause one and trigger the other.
func ExampleWithSchedule() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "cron", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	beats := make(chan time.Time, 10)
	_, err = durable.Register(eng, "heartbeat", func(ctx context.Context, scheduled time.Time) (int, error) {
		beats <- scheduled
		return scheduled.Second(), nil
	}, durable.WithSchedule("* * * * * *")) // every second, seconds first
	if err != nil {
		log.Fatal(err)
	}
	_, err = durable.Register(eng, "report", func(ctx context.Context, scheduled time.Time) (string, error) {
		return "report of " + scheduled.Format(time.DateOnly), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)

	beat := <-beats // each tick runs once, in one process, under the ID "sched-heartbeat-<tick>"
	fmt.Println("a beat on a whole second:", beat.Equal(beat.Truncate(time.Second)))

	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.CreateSchedule(ctx, "weekday-report", "report", "0 0 9 * * MON-FRI", durable.InZone(paris)); err != nil {
		log.Fatal(err)
	}
	if err := eng.PauseSchedule(ctx, "heartbeat"); err != nil {
		log.Fatal(err)
	}
	schedules, err := eng.ListSchedules(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range schedules {
		next := "-"
		if !s.Paused {
			next = s.Next.In(paris).Format("15:04")
		}
		fmt.Printf("%s %q %s paused=%v next=%s\n", s.Name, s.Spec, s.Zone, s.Paused, next)
	}

	id, err := eng.TriggerSchedule(ctx, "weekday-report") // run it now, once
	if err != nil {
		log.Fatal(err)
	}
	h, err := durable.Retrieve[string](ctx, eng, id)
	if err != nil {
		log.Fatal(err)
	}
	out, err := h.Result(ctx)
	fmt.Println(out == "report of "+time.Now().In(paris).Format(time.DateOnly), err)

	err = eng.CreateSchedule(ctx, "bad", "report", "61 * * * * *")
	fmt.Println(err != nil && errors.Is(err, durable.ErrInvalidSchedule))
	// Output:
	// a beat on a whole second: true
	// heartbeat "* * * * * *" UTC paused=true next=-
	// weekday-report "0 0 9 * * MON-FRI" Europe/Paris paused=false next=09:00
	// true <nil>
	// true
}
