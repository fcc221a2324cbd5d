// Command queueapp is the helper program of durable's multi-process queue
// test (TestQueueManyProcesses): several copies run at once on one SQLite
// file, each serving the queue "shared" under its own executor ID, until no
// workflow of the file is left ENQUEUED or PENDING.
//
// Its workflow records, as steps, the time it started and the time it
// ended, and appends the lines "<workflow ID> <executor> begin <ns>" and
// "… end <ns>" to a side-effect log around each real run of its work
// step, so the test can check how often every workflow ran and that the
// queue's global concurrency held across processes.
//
// It prints "ready" after Launch and "done" once the queue is drained,
// then exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
	_ "github.com/dboslite/dboslite/store/postgres" // postgres:// URLs too
)

// Queue and workflow names the test enqueues under.
const (
	QueueName    = "shared"
	WorkflowName = "queued"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "queueapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("queueapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "system database URL (sqlite:… or postgres://…)")
	logPath := fs.String("log", "", "side-effect log file")
	executor := fs.String("executor", "", "executor ID, unique among the processes")
	global := fs.Int("global", 4, "the queue's global concurrency")
	work := fs.Duration("work", time.Millisecond, "how long each workflow works")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *logPath == "" || *executor == "" {
		return errors.New("-db, -log and -executor are required")
	}
	sideEffects, err := os.OpenFile(*logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer sideEffects.Close()

	eng, err := durable.New(durable.Config{
		AppName:           "queueapp",
		SystemDatabaseURL: *db,
		ExecutorID:        *executor,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	if _, err := durable.Register(eng, WorkflowName, workflow(sideEffects, *executor, *work)); err != nil {
		return err
	}
	if err := durable.RegisterQueue(eng, queue.Queue{Name: QueueName, GlobalConcurrency: *global, PollInterval: 50 * time.Millisecond}); err != nil {
		return err
	}
	if err := eng.Launch(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	drainErr := waitDrained(ctx, eng.Store())
	shutdownCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := errors.Join(drainErr, eng.Shutdown(shutdownCtx)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "done")
	return nil
}

// workflow returns the "queued" workflow: steps "start", "work" and "end";
// start and end return the wall-clock time in Unix nanoseconds.
func workflow(sideEffects *os.File, executor string, work time.Duration) func(context.Context, int) (int, error) {
	now := func(context.Context) (int64, error) { return time.Now().UnixNano(), nil }
	return func(ctx context.Context, i int) (int, error) {
		id := durable.WorkflowID(ctx)
		if _, err := durable.Step(ctx, "start", now); err != nil {
			return 0, err
		}
		if _, err := durable.Step(ctx, "work", func(ctx context.Context) (int, error) {
			// One write call per line: lines never interleave.
			line := func(what string) error {
				_, err := fmt.Fprintf(sideEffects, "%s %s %s %d\n", id, executor, what, time.Now().UnixNano())
				return err
			}
			if err := line("begin"); err != nil {
				return 0, err
			}
			time.Sleep(work)
			return i, line("end")
		}); err != nil {
			return 0, err
		}
		if _, err := durable.Step(ctx, "end", now); err != nil {
			return 0, err
		}
		return i, nil
	}
}

// waitDrained returns once no workflow is ENQUEUED or PENDING. Other
// processes' progress shows only in the database, so it looks every 20ms.
func waitDrained(ctx context.Context, s store.Store) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		left, err := s.ListWorkflows(ctx, store.ListParams{Statuses: []store.Status{store.StatusEnqueued, store.StatusPending}, Limit: 1})
		if err != nil || len(left) == 0 {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
