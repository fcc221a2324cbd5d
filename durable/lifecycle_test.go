package durable_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

func TestShutdownLeavesWorkflowsPendingAndNoGoroutines(t *testing.T) {
	// Registered first, so it runs after every other cleanup has closed
	// what the test opened.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, ignorePgxClose) })
	is := is.New(t)
	v := setup(t)
	var calls counter
	inStep := make(chan struct{})
	blocking := func(ctx context.Context, _ int) (int, error) {
		if _, err := durable.Step(ctx, "quick", func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
			return 0, err
		}
		return durable.Step(ctx, "slow", func(ctx context.Context) (int, error) {
			calls.inc("slow")
			if calls.get("slow") == 1 {
				close(inStep)
				<-ctx.Done() // held until shutdown
				return 0, ctx.Err()
			}
			return 2, nil
		})
	}
	e1 := v.engine()
	wf := register(t, e1, "blocking", blocking)
	launch(t, e1)
	h, err := wf.Start(context.Background(), 0, durable.WithID("b"))
	is.NoErr(err)
	<-inStep
	is.NoErr(e1.Shutdown(context.Background()))
	is.NoErr(e1.Shutdown(context.Background())) // twice is safe
	_, err = h.Result(context.Background())
	is.True(errors.Is(err, durable.ErrShutdown))          // the waiter learns why
	is.Equal(v.workflow("b").Status, store.StatusPending) // still PENDING
	is.Equal(len(v.steps("b")), 1)                        // the interrupted step is not recorded
	_, err = wf.Start(context.Background(), 0)
	is.True(errors.Is(err, durable.ErrShutdown)) // no starts after shutdown

	e2 := v.engine()
	register(t, e2, "blocking", blocking)
	launch(t, e2)
	h2, err := durable.Retrieve[int](context.Background(), e2, "b")
	is.NoErr(err)
	got, err := h2.Result(context.Background())
	is.NoErr(err)
	is.Equal(got, 2) // resumed and finished
	is.NoErr(e2.Shutdown(context.Background()))
}

func TestBadInputChangesNothing(t *testing.T) {
	v := setup(t)
	e := v.engine()
	noop := func(ctx context.Context, in float64) (int, error) { return 1, nil }
	var first *durable.Workflow[float64, int]

	t.Run("register", func(t *testing.T) {
		is := is.New(t)
		_, err := durable.Register(e, "", noop)
		is.True(errors.Is(err, durable.ErrInvalidName)) // empty name
		first, err = durable.Register(e, "noop", noop)
		is.NoErr(err)
		_, err = durable.Register(e, "noop", noop)
		is.True(errors.Is(err, durable.ErrDuplicateName)) // duplicate name
	})
	wf := register(t, e, "other", noop)
	t.Run("start before launch", func(t *testing.T) {
		is := is.New(t)
		_, err := wf.Start(context.Background(), 1)
		is.True(errors.Is(err, durable.ErrNotLaunched))
	})
	launch(t, e)
	t.Run("register after launch", func(t *testing.T) {
		is := is.New(t)
		_, err := durable.Register(e, "late", noop)
		is.True(errors.Is(err, durable.ErrAlreadyLaunched))
		is.True(errors.Is(e.Launch(context.Background()), durable.ErrAlreadyLaunched)) // launch twice
	})
	t.Run("input that cannot be encoded", func(t *testing.T) {
		is := is.New(t)
		_, err := wf.Start(context.Background(), math.Inf(1), durable.WithID("inf"))
		is.True(errors.Is(err, durable.ErrEncode))
		_, err = v.open().GetWorkflow(context.Background(), "inf")
		is.True(errors.Is(err, store.ErrNotFound)) // nothing written
	})
	t.Run("an explicit empty ID", func(t *testing.T) {
		is := is.New(t)
		_, err := wf.Start(context.Background(), 1, durable.WithID(""))
		is.True(errors.Is(err, durable.ErrInvalidID)) // refused, not given a fresh ID
		wfs, err := e.Store().ListWorkflows(context.Background(), store.ListParams{Name: "other"})
		is.NoErr(err)
		is.Equal(len(wfs), 0) // nothing recorded
	})
	t.Run("an ID taken by another workflow", func(t *testing.T) {
		is := is.New(t)
		_, err := wf.Run(context.Background(), 1, durable.WithID("taken"))
		is.NoErr(err)
		before := v.workflow("taken")
		_, err = first.Start(context.Background(), 1, durable.WithID("taken"))
		is.True(errors.Is(err, durable.ErrConflictingWorkflow))
		is.Equal(v.workflow("taken"), before) // unchanged
	})
}

func TestSystemDatabaseErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	notADB := filepath.Join(dir, "garbage.sqlite")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("this is not a database\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, url, want string }{
		{"a directory", "sqlite:" + dir, dir},
		{"not a database", "sqlite:" + notADB, notADB},
		{"a bare path", notADB, `write "sqlite:` + notADB + `"`},
		{"unknown scheme", "mysql://localhost/db", "sqlite:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			_, err := durable.New(durable.Config{AppName: "x", SystemDatabaseURL: c.url})
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), c.want))    // says what is wrong, and where
			is.True(!strings.Contains(err.Error(), "secret")) // never a password
		})
	}
	is := is.New(t)
	b, err := os.ReadFile(notADB)
	is.NoErr(err)
	is.True(strings.HasPrefix(string(b), "this is not a database")) // the file is untouched
}

// The engine links no PostgreSQL driver: a program without the blank
// import is told which import to add, and never sees a password echoed.
func TestAProgramWithoutThePostgresStore(t *testing.T) {
	onlySQLite(t)
	bin := buildHelper(t, "nopostgres")
	for _, url := range []string{"postgres://u:secret@localhost/db", "host=localhost password=secret dbname=db"} {
		is := is.New(t)
		out, err := exec.Command(bin, url).CombinedOutput()
		is.NoErr(err)
		is.True(strings.Contains(string(out), `import _ "github.com/dboslite/dboslite/store/postgres"`)) // names the import to add
		is.True(!strings.Contains(string(out), "secret"))                                                // never the password
	}
}

func TestWorkflowOnlyOperationsInAStepSaySo(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	wf := register(t, e, "misplaced", func(ctx context.Context, _ int) (string, error) {
		return durable.Step(ctx, "inner", func(ctx context.Context) (string, error) {
			_, rerr := durable.Recv[string](ctx, "t", time.Second)
			serr := durable.Sleep(ctx, time.Second)
			return fmt.Sprint(errors.Is(rerr, durable.ErrInStep), errors.Is(serr, durable.ErrInStep),
				errors.Is(rerr, durable.ErrNotInWorkflow)), nil
		})
	})
	launch(t, e)
	got, err := wf.Run(context.Background(), 0)
	is.NoErr(err)
	is.Equal(got, "true true false") // "not allowed inside a step", not "not in a workflow"
}

func TestGetEventOfAnUnknownWorkflowFailsAtOnce(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	launch(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := durable.GetEvent[string](ctx, e, "nobody", "k", time.Hour)
	is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // as Send and ReadStream say, not a wait for the timeout
}

func TestMaxRecoveryAttemptsZeroIsTheDefaultEverywhere(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	// A workflow left behind after 3 recoveries already.
	v.orphan("tried", "job", "0")
	s := v.open()
	for range 3 {
		_, err := s.RecoverWorkflow(context.Background(), store.RecoverParams{WorkflowID: "tried", MaxAttempts: -1})
		is.NoErr(err)
	}
	e := v.engine(func(c *durable.Config) { c.MaxRecoveryAttempts = 0 })
	wf := register(t, e, "job", func(ctx context.Context, n int) (int, error) { return n + 1, nil },
		durable.WithMaxRecoveryAttempts(0))
	launch(t, e)
	h, err := wf.Retrieve(context.Background(), "tried")
	is.NoErr(err)
	got, err := h.Result(context.Background())
	is.NoErr(err) // 0 means the default (100) in the option as in Config, not "never recover"
	is.Equal(got, 1)
	is.Equal(v.workflow("tried").RecoveryAttempts, 5)
}
