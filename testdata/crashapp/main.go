// Command crashapp is the helper program of durable's crash test
// (TestCrashSIGKILL): it runs n workflows of five steps against a SQLite
// system database, appending a line to a side-effect log each time a step
// function really runs, so that a test can kill it with SIGKILL at any
// moment, start it again and check that every workflow completes once with
// every step recorded once.
//
// Every tenth workflow is a waiter: after step 2 it waits in Recv for a
// message (sent once, by idempotency key, 30 ms after its start) and then
// sleeps 60 ms, long enough to suspend, so kills also land while a workflow
// waits for a message or sleeps.
//
// It prints "ready" after Launch (which recovers the workflows a killed run
// left PENDING) and "done" once every result is checked, then exits 0. A
// wrong result makes it exit 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/dboslite/dboslite/durable"
	_ "github.com/dboslite/dboslite/store/postgres" // postgres:// URLs too
)

// inFlight bounds how many workflows run at once, so that a run lasts long
// enough to be killed in the middle.
const inFlight = 16

// steps is how many steps each workflow has.
const steps = 5

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crashapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("crashapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "system database URL (sqlite:… or postgres://…)")
	logPath := fs.String("log", "", "side-effect log file")
	n := fs.Int("n", 200, "number of workflows")
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

	eng, err := durable.New(durable.Config{
		AppName:           "crashapp",
		SystemDatabaseURL: *db,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SuspendSleepsOver: 40 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	wf, err := durable.Register(eng, "crash", crashWorkflow(sideEffects))
	if err != nil {
		return err
	}
	if err := eng.Launch(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")

	runErr := runAll(ctx, eng, wf, *n)
	shutdownCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := errors.Join(runErr, eng.Shutdown(shutdownCtx)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "done")
	return nil
}

// crashWorkflow returns the "crash" workflow: five steps, each logging that
// it ran and returning 10*i + its number.
func crashWorkflow(sideEffects *os.File) func(context.Context, int) (string, error) {
	return func(ctx context.Context, i int) (string, error) {
		id := durable.WorkflowID(ctx)
		sum := 0
		for k := 1; k <= steps; k++ {
			name := fmt.Sprintf("step-%d", k)
			v, err := durable.Step(ctx, name, func(ctx context.Context) (int, error) {
				// One write call per line: a kill never leaves half a line.
				if _, err := sideEffects.WriteString(id + " " + name + "\n"); err != nil {
					return 0, err
				}
				time.Sleep(time.Duration(rand.IntN(3001)) * time.Microsecond)
				return stepValue(i, k), nil
			})
			if err != nil {
				return "", err
			}
			sum += v
			if k == 2 && Waiter(i) {
				msg, err := durable.Recv[int](ctx, "go", time.Minute)
				if err != nil {
					return "", fmt.Errorf("recv: %w", err)
				}
				if err := durable.Sleep(ctx, 60*time.Millisecond); err != nil {
					return "", err
				}
				sum += msg
			}
		}
		return fmt.Sprintf("wf-%d:%d", i, sum), nil
	}
}

func stepValue(i, k int) int { return 10*i + k }

// Waiter reports whether workflow i waits for a message and sleeps.
func Waiter(i int) bool { return i%10 == 0 }

// expected is the result workflow i must return.
func expected(i int) string {
	sum := 0
	for k := 1; k <= steps; k++ {
		sum += stepValue(i, k)
	}
	if Waiter(i) {
		sum += i // the message
	}
	return fmt.Sprintf("wf-%d:%d", i, sum)
}

// runAll starts workflows wf-000 … wf-<n-1>, at most inFlight at a time,
// and checks every result.
func runAll(ctx context.Context, eng *durable.Engine, wf *durable.Workflow[int, string], n int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, inFlight)
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id := fmt.Sprintf("wf-%03d", i)
			h, err := wf.Start(ctx, i, durable.WithID(id))
			if err != nil {
				fail(fmt.Errorf("start %s: %w", id, err))
				return
			}
			if Waiter(i) {
				// Sent again by every run of this program; the key
				// delivers it once.
				time.Sleep(30 * time.Millisecond)
				if err := eng.Send(ctx, id, "go", i, durable.WithIdempotencyKey("go-"+id)); err != nil {
					fail(fmt.Errorf("send to %s: %w", id, err))
					return
				}
			}
			got, err := h.Result(ctx)
			if err != nil {
				fail(fmt.Errorf("result of %s: %w", id, err))
				return
			}
			if want := expected(i); got != want {
				fail(fmt.Errorf("result of %s is %q, want %q", id, got, want))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
