package durabletest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/durabletest"
)

// The kit leaves no goroutine behind: every engine it made is shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx closes a connection whose query was cancelled in a goroutine
		// of its own, which ends by itself.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn.(*PgConn).asyncClose.func1"))
}

// greet registers a workflow that counts its runs in runs.
func greet(t *testing.T, e *durable.Engine, runs *atomic.Int64) *durable.Workflow[string, string] {
	t.Helper()
	w, err := durable.Register(e, "greet", func(ctx context.Context, name string) (string, error) {
		return durable.Step(ctx, "greet", func(context.Context) (string, error) {
			runs.Add(1)
			return "hello " + name, nil
		})
	})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return w
}

func TestNew(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			var runs atomic.Int64
			e := durabletest.New(t, opts...)
			w := greet(t, e, &runs)
			durabletest.Launch(t, e)
			out, err := w.Run(context.Background(), "you")
			is.NoErr(err)              // runs on the temporary database
			is.Equal(out, "hello you") // to its end
			is.Equal(runs.Load(), int64(1))
		})
	}
}

func TestEnvRestartAndReset(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			var runs atomic.Int64
			v := durabletest.NewEnv(t, opts...)
			first := v.Engine()
			w := greet(t, first, &runs)
			durabletest.Launch(t, first)
			_, err := w.Run(ctx, "you", durable.WithID("g"))
			is.NoErr(err)
			is.NoErr(first.Shutdown(ctx))

			second := v.Engine() // the program, restarted
			w = greet(t, second, &runs)
			durabletest.Launch(t, second)
			h, err := w.Retrieve(ctx, "g")
			is.NoErr(err) // the second engine sees the first one's workflow
			out, err := h.Result(ctx)
			is.NoErr(err)
			is.Equal(out, "hello you")      // with its recorded output
			is.Equal(runs.Load(), int64(1)) // without running it again

			url := v.URL()
			v.Reset()
			is.True(v.URL() != url) // a new database
			_, err = w.Run(ctx, "again")
			is.True(errors.Is(err, durable.ErrShutdown)) // the engines on the old one are shut down
			third := v.Engine()
			w = greet(t, third, &runs)
			durabletest.Launch(t, third)
			_, err = w.Retrieve(ctx, "g")
			is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // the new database is empty
		})
	}
}

func TestWithPostgresEmptyKeepsSQLite(t *testing.T) {
	is := is.New(t)
	v := durabletest.NewEnv(t, durabletest.WithPostgres(""))
	is.True(strings.HasPrefix(v.URL(), "sqlite:")) // no URL given: SQLite
	if url := os.Getenv("DBOS_TEST_POSTGRES_URL"); url != "" {
		v := durabletest.NewEnv(t, durabletest.WithPostgres(url))
		is.True(strings.Contains(v.URL(), "schema=durabletest_")) // a schema of its own
	}
}
