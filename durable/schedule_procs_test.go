package durable_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// scheduleMain is a process serving a one-second schedule for d: each
// run of its workflow prints "ran <tick> <pid>".
func scheduleMain(ctx context.Context, url, d string) error {
	serve, err := time.ParseDuration(d)
	if err != nil {
		return err
	}
	e, err := durable.New(durable.Config{AppName: "helper", SystemDatabaseURL: url, ExecutorID: fmt.Sprint(os.Getpid()),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	_, err = durable.Register(e, "tick", func(_ context.Context, scheduled time.Time) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("ran %s %d\n", scheduled.UTC().Format(time.RFC3339), os.Getpid())
		return "", nil
	}, durable.WithSchedule("* * * * * *"))
	if err != nil {
		return err
	}
	if err := e.Launch(ctx); err != nil {
		return err
	}
	fmt.Println("ready")
	time.Sleep(serve)
	return e.Shutdown(ctx)
}

// TestScheduleServedByTwoProcesses: two processes serve the same
// one-second schedule for five seconds. Every tick in that span is
// started once, with no gap, and runs once, in one of them.
func TestScheduleServedByTwoProcesses(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	s := v.open() // the database exists before the processes start

	outs := make([]bytes.Buffer, 2)
	cmds := make([]*exec.Cmd, 2)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0])
		cmds[i].Env = append(os.Environ(), helperEnv+"="+strings.Join([]string{"schedule", v.url, "5s"}, "\x1f"))
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		is.NoErr(cmds[i].Start()) // start a process
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i].String())
		}
	}

	ran := map[string][]string{} // tick ID -> the processes that ran it
	for i := range outs {
		sc := bufio.NewScanner(&outs[i])
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ran" {
				ran["sched-tick-"+f[1]] = append(ran["sched-tick-"+f[1]], f[2])
			}
		}
	}
	byProcess := map[string]int{}
	for id, pids := range ran {
		is.Equal(len(pids), 1) // each tick ran once
		if len(pids) != 1 {
			t.Logf("%s ran in %v", id, pids)
		}
		byProcess[pids[0]]++
	}
	t.Logf("%d ticks ran, by process: %v", len(ran), byProcess)
	is.True(len(ran) >= 4) // five seconds of one-second ticks

	wfs, err := s.ListWorkflows(t.Context(), store.ListParams{IDPrefix: "sched-tick-"})
	is.NoErr(err)
	var ticks []time.Time
	for _, wf := range wfs {
		tick, err := time.Parse(time.RFC3339, strings.TrimPrefix(wf.ID, "sched-tick-"))
		is.NoErr(err) // a tick's ID
		ticks = append(ticks, tick)
		if wf.Status == store.StatusSuccess {
			is.Equal(len(ran[wf.ID]), 1) // a completed tick was run by one process
		}
		delete(ran, wf.ID)
	}
	is.Equal(len(ran), 0) // every run was of a recorded tick
	slices.SortFunc(ticks, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(ticks); i++ {
		is.Equal(ticks[i].Sub(ticks[i-1]), time.Second) // no tick skipped, none twice
	}
}
