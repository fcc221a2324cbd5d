package inspectweb_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the test's own connection, to drop its schema

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/internal/pgschema"
	_ "github.com/dboslite/dboslite/store/postgres" // the view on PostgreSQL too
)

// The workflows every test database holds.
const (
	checkoutID = "order-42"                     // SUCCESS, three steps
	xssID      = "xss-1"                        // SUCCESS, with markup for output
	xssOutput  = "<script>alert(1)</script>"    // the output of xssID
	failedID   = "refund-7"                     // ERROR
	notifyID   = "notify-1"                     // an event, a stream and a message
	parentID   = "batch-3"                      // SUCCESS, with two children
	waiterID   = "waiter-1"                     // PENDING: waits for a message that never comes
	oddID      = `odd/<i>id</i>?x=1&y="2"#frag` // an ID to escape everywhere
	queuedID   = "queued-1"                     // ENQUEUED on a queue no engine serves
)

// backend is a system database the tests run on.
type backend struct{ name, url string }

// backends returns a new SQLite database and, when
// $DBOS_TEST_POSTGRES_URL names a server, a new PostgreSQL schema; both
// are removed when the test ends.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "sys.sqlite")}}
	base := os.Getenv("DBOS_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("set DBOS_TEST_POSTGRES_URL: under CI the view is tested on PostgreSQL too")
		}
		t.Log("PostgreSQL skipped: set DBOS_TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/dboslite_test to test it")
		return bs
	}
	return append(bs, backend{"postgres", pgschema.ForTest(t, base)})
}

// fill runs the fixture's workflows on a new engine of url, and returns
// a client of the database. The engine stays launched until the test
// ends, as an application inspected while it runs.
func fill(t *testing.T, url string) *durable.Client {
	t.Helper()
	ctx := context.Background()
	e, err := durable.New(durable.Config{AppName: "shop", SystemDatabaseURL: url,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	step := func(ctx context.Context, name string, d time.Duration, out string) (string, error) {
		return durable.Step(ctx, name, func(context.Context) (string, error) {
			time.Sleep(d) // a step that takes some time, for the timeline
			return out, nil
		})
	}
	checkout := must(durable.Register(e, "checkout", func(ctx context.Context, item string) (string, error) {
		if _, err := step(ctx, "reserve", 3*time.Millisecond, item+" reserved"); err != nil {
			return "", err
		}
		if _, err := step(ctx, "charge", 8*time.Millisecond, "charged 12.50"); err != nil {
			return "", err
		}
		return step(ctx, "ship", 5*time.Millisecond, "shipped")
	}))(t)
	xss := must(durable.Register(e, "render", func(ctx context.Context, in string) (string, error) {
		if _, err := step(ctx, "render", time.Millisecond, `<img src=x onerror="alert(2)">`); err != nil {
			return "", err
		}
		return xssOutput, nil
	}))(t)
	failed := must(durable.Register(e, "refund", func(ctx context.Context, in int) (string, error) {
		return durable.Step(ctx, "call bank", func(context.Context) (string, error) {
			return "", errors.New("card declined <b>twice</b>")
		})
	}))(t)
	notify := must(durable.Register(e, "notify", func(ctx context.Context, in string) (string, error) {
		if err := durable.SetEvent(ctx, "status", "sent"); err != nil {
			return "", err
		}
		for _, v := range []string{"first", "<second>"} {
			if err := durable.WriteStream(ctx, "progress", v); err != nil {
				return "", err
			}
		}
		if err := durable.CloseStream(ctx, "progress"); err != nil {
			return "", err
		}
		return durable.Recv[string](ctx, "ack", time.Minute)
	}))(t)
	parent := must(durable.Register(e, "batch", func(ctx context.Context, n int) (int, error) {
		for i := range n {
			if _, err := checkout.Run(ctx, "item "+string(rune('A'+i))); err != nil {
				return 0, err
			}
		}
		return n, nil
	}))(t)
	waiter := must(durable.Register(e, "waiter", func(ctx context.Context, in string) (string, error) {
		return durable.Recv[string](ctx, "go", time.Hour)
	}))(t)
	if err := e.Launch(ctx); err != nil {
		t.Fatalf("launch: %v", err)
	}

	run(t, func() error { _, err := checkout.Run(ctx, "book", durable.WithID(checkoutID)); return err })
	run(t, func() error { _, err := xss.Run(ctx, "page", durable.WithID(xssID)); return err })
	if _, err := failed.Run(ctx, 7, durable.WithID(failedID)); err == nil {
		t.Fatal("refund succeeded, want an error")
	}
	run(t, func() error {
		h, err := notify.Start(ctx, "hello", durable.WithID(notifyID))
		if err != nil {
			return err
		}
		if err := e.Send(ctx, notifyID, "ack", "thanks"); err != nil {
			return err
		}
		_, err = h.Result(ctx)
		return err
	})
	run(t, func() error { _, err := parent.Run(ctx, 2, durable.WithID(parentID)); return err })
	run(t, func() error { _, err := checkout.Run(ctx, "odd", durable.WithID(oddID)); return err })
	run(t, func() error { _, err := waiter.Start(ctx, "", durable.WithID(waiterID)); return err })

	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	run(t, func() error {
		_, err := durable.Enqueue[string](ctx, c, "emails", "checkout", "mail", durable.WithID(queuedID))
		return err
	})
	return c
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func run(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}
