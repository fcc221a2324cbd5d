package durable_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// helperEnv makes the test binary act as another program on the same
// database: see TestMain.
const helperEnv = "DBOSLITE_TEST_HELPER"

func TestMain(m *testing.M) {
	if args := os.Getenv(helperEnv); args != "" {
		if err := helperMain(strings.Split(args, "\x1f")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 && backend() == "sqlite" {
		code = onPostgres()
	}
	os.Exit(code)
}

// helperMain is the other process: "send URL DEST TOPIC MSG" or
// "cancel URL ID", through an engine of its own, "client URL"
// (clientMain) or "schedule URL DURATION" (scheduleMain).
func helperMain(args []string) error {
	ctx := context.Background()
	if args[0] == "client" {
		return clientMain(ctx, args[1])
	}
	if args[0] == "schedule" {
		return scheduleMain(ctx, args[1], args[2])
	}
	e, err := durable.New(durable.Config{AppName: "helper", SystemDatabaseURL: args[1], ExecutorID: "helper",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer e.Shutdown(ctx)
	if err := e.Launch(ctx); err != nil {
		return err
	}
	switch args[0] {
	case "send":
		return e.Send(ctx, args[2], args[3], args[4])
	case "cancel":
		return e.Cancel(ctx, args[2])
	}
	return fmt.Errorf("unknown helper command %q", args[0])
}

// inOtherProcess runs the test binary as a helper on the env's database.
func (v *env) inOtherProcess(args ...string) {
	v.t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(append([]string{args[0], v.url}, args[1:]...), "\x1f"))
	if out, err := cmd.CombinedOutput(); err != nil {
		v.t.Fatalf("helper process %v: %v\n%s", args, err, out)
	}
}

func TestOtherProcessWakesAWaiterAndCancelsAStep(t *testing.T) {
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	inStep := make(chan struct{})
	stepDone := make(chan error, 1)
	wait := register(t, e, "wait", func(ctx context.Context, _ int) (string, error) {
		return durable.Recv[string](ctx, "in", 30*time.Second)
	})
	block := register(t, e, "block", func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "block", func(ctx context.Context) (int, error) {
			close(inStep)
			<-ctx.Done()
			stepDone <- ctx.Err()
			return 0, ctx.Err()
		})
	})
	launch(t, e)

	t.Run("a message from another process wakes Recv", func(t *testing.T) {
		is := is.New(t)
		h, err := wait.Start(ctx, 0, durable.WithID("waiter"))
		is.NoErr(err)
		start := time.Now()
		v.inOtherProcess("send", "waiter", "in", `hello`)
		got, err := h.Result(ctx)
		is.NoErr(err) // not a 30 s timeout
		is.Equal(got, "hello")
		t.Logf("received %v after the other process started", time.Since(start))
	})
	t.Run("a cancel from another process reaches the running step", func(t *testing.T) {
		is := is.New(t)
		h, err := block.Start(ctx, 0, durable.WithID("blocked"))
		is.NoErr(err)
		<-inStep
		v.inOtherProcess("cancel", "blocked")
		select {
		case err := <-stepDone:
			is.True(errors.Is(err, context.Canceled)) // the step's context was cancelled
		case <-time.After(10 * time.Second):
			t.Fatal("the running step's context was not cancelled within 10 s")
		}
		_, err = h.Result(ctx)
		is.True(errors.Is(err, durable.ErrWorkflowCancelled))
		is.Equal(v.workflow("blocked").Status, store.StatusCancelled)
	})
}
