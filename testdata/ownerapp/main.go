// Command ownerapp is the helper program of durable's ownership tests
// (durable/ownership_test.go): several copies run at once on one SQLite
// file, with the same executor ID or different ones, and the test stops
// them cleanly (SIGTERM) or kills them (SIGKILL) while they run a
// workflow, to check which process runs it afterwards.
//
// Its one workflow, "owned", has three steps: "start" and "end" return
// the wall-clock time in Unix nanoseconds, and "work" returns the PID of
// the process that ran it. Each time "work" really runs, it appends one
// line "<workflow ID> work <executor> <PID>" to the side-effect log and
// prints "in-step <workflow ID>"; with -gate it then blocks until the
// file <gate>/<workflow ID> exists (or the workflow is stopped), so the
// test decides when the step ends. The workflow returns what "work"
// returned.
//
// It prints "ready" after Launch, "result <ID> <output>" (or
// "result <ID> error: …") when a workflow named by -start or -await
// ends, and "done" after a clean shutdown on SIGTERM or SIGINT, then
// exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	_ "github.com/dboslite/dboslite/store/postgres" // postgres:// URLs too
)

// Queue and workflow names the test enqueues under.
const (
	QueueName    = "shared"
	WorkflowName = "owned"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ownerapp:", err)
		os.Exit(1)
	}
}

// lockedWriter serializes the lines that goroutines print.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) println(args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, args...)
}

// run serves until ctx is done, then shuts the engine down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ownerapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "system database URL (sqlite:… or postgres://…)")
	logPath := fs.String("log", "", "side-effect log file")
	executor := fs.String("executor", "local", "executor ID")
	heartbeat := fs.Duration("heartbeat", 100*time.Millisecond, "the engine's HeartbeatInterval")
	gate := fs.String("gate", "", "folder: the work step of workflow W waits for the file W in it")
	start := fs.String("start", "", "start a workflow with this ID and print its result")
	await := fs.String("await", "", "wait for the workflow with this ID and print its result")
	global := fs.Int("queue", 0, "serve the queue "+QueueName+" with this global concurrency; 0 for none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *logPath == "" {
		return errors.New("-db and -log are required")
	}
	sideEffects, err := os.OpenFile(*logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer sideEffects.Close()
	out := &lockedWriter{w: stdout}

	eng, err := durable.New(durable.Config{
		AppName:           "ownerapp",
		SystemDatabaseURL: *db,
		ExecutorID:        *executor,
		HeartbeatInterval: *heartbeat,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	wf, err := durable.Register(eng, WorkflowName, workflow(sideEffects, out, *executor, *gate))
	if err != nil {
		return err
	}
	if *global > 0 {
		q := queue.Queue{Name: QueueName, GlobalConcurrency: *global, PollInterval: 50 * time.Millisecond}
		if err := durable.RegisterQueue(eng, q); err != nil {
			return err
		}
	}
	if err := eng.Launch(ctx); err != nil {
		return err
	}
	out.println("ready")

	var waiters sync.WaitGroup
	report := func(id string, h *durable.Handle[int], err error) {
		if err == nil {
			var v int
			if v, err = h.Result(ctx); err == nil {
				out.println("result", id, v)
				return
			}
		}
		if ctx.Err() == nil {
			out.println("result", id, "error:", err)
		}
	}
	if *start != "" {
		h, err := wf.Start(ctx, 0, durable.WithID(*start))
		waiters.Go(func() { report(*start, h, err) })
	}
	if *await != "" {
		h, err := wf.Retrieve(ctx, *await)
		waiters.Go(func() { report(*await, h, err) })
	}
	<-ctx.Done()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = eng.Shutdown(shutdownCtx)
	waiters.Wait()
	if err != nil {
		return err
	}
	out.println("done")
	return nil
}

// workflow returns the "owned" workflow.
func workflow(sideEffects *os.File, out *lockedWriter, executor, gate string) func(context.Context, int) (int, error) {
	now := func(context.Context) (int64, error) { return time.Now().UnixNano(), nil }
	return func(ctx context.Context, _ int) (int, error) {
		id := durable.WorkflowID(ctx)
		if _, err := durable.Step(ctx, "start", now); err != nil {
			return 0, err
		}
		pid, err := durable.Step(ctx, "work", func(ctx context.Context) (int, error) {
			// One write call per line: a kill never leaves half a line.
			if _, err := fmt.Fprintf(sideEffects, "%s work %s %d\n", id, executor, os.Getpid()); err != nil {
				return 0, err
			}
			out.println("in-step", id)
			if gate != "" {
				if err := waitFile(ctx, filepath.Join(gate, id)); err != nil {
					return 0, err
				}
			}
			return os.Getpid(), nil
		})
		if err != nil {
			return 0, err
		}
		if _, err := durable.Step(ctx, "end", now); err != nil {
			return 0, err
		}
		return pid, nil
	}
}

// waitFile returns once path exists, or ctx's error. Another process
// creates the file, and nothing signals that here, so it looks every 5ms.
func waitFile(ctx context.Context, path string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
