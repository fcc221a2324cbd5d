package postgres_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// TestRetryAfterLostConnections kills the backends of a store's pool: the
// reads and writes that follow are tried again on new connections.
func TestRetryAfterLostConnections(t *testing.T) {
	is := is.New(t)
	app := "dboslite_retry_" + fmt.Sprint(time.Now().UnixNano())
	s := open(t, withParam(schemaURL(t), "application_name", app))
	ctx := t.Context()
	_, _, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err) // create
	enqueueN(t, s, "q", 3)

	for _, c := range []struct {
		name string
		call func() error
	}{
		{"read", func() error { _, err := s.GetWorkflow(ctx, "wf"); return err }},
		{"idempotent write", func() error {
			return s.RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "wf", StepID: 1, Name: "s"}})
		}},
		{"claim", func() error {
			_, err := s.Claim(ctx, store.ClaimParams{Queue: "q", Names: []string{"f"}, Max: 1})
			return err
		}},
	} {
		killPool(t, app, s.ListenerPID())
		if err := c.call(); err != nil {
			t.Fatalf("%s after the pool's connections were killed: %v", c.name, err)
		}
	}
}

// killPool terminates the backends whose application_name is app, but
// the listener's.
func killPool(t *testing.T, app string, listener uint32) {
	t.Helper()
	var n int
	err := rawDB(t, testURL(t)).QueryRow(`SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> $2`, app, int(listener)).Scan(&n)
	if err != nil || n == 0 {
		t.Fatalf("kill the pool's connections: %d killed, %v", n, err)
	}
}

// TestKilledInCommit kills the connection of a write while its COMMIT
// runs (a deferred trigger makes the commit sleep): a claim, which must
// not run twice, fails with ErrOutcomeUnknown; an outcome, which may, is
// tried again and succeeds.
func TestKilledInCommit(t *testing.T) {
	is := is.New(t)
	app := fmt.Sprint("dboslite_commit_", time.Now().UnixNano())
	schema := newSchema(t)
	s := open(t, withParam(withParam(testURL(t), "schema", schema), "application_name", app))
	ctx := t.Context()
	enqueueN(t, s, "q", 1)
	_, _, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err) // create
	_, err = schemaDB(t, schema).Exec(`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
		CREATE CONSTRAINT TRIGGER slow AFTER UPDATE ON workflows DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION slow()`)
	is.NoErr(err) // every update's commit sleeps a second

	claimed := make(chan error, 1)
	go func() {
		_, err := s.Claim(ctx, store.ClaimParams{Queue: "q", Names: []string{"f"}, Max: 1})
		claimed <- err
	}()
	killSleeper(t, app)
	err = <-claimed
	is.True(errors.Is(err, postgres.ErrOutcomeUnknown))                                       // a claim is not tried again
	is.Equal(count(t, schema, `SELECT count(*) FROM workflows WHERE status = 'ENQUEUED'`), 1) // (it was rolled back)

	set := make(chan error, 1)
	go func() {
		ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "wf", Status: store.StatusSuccess})
		if err == nil && !ok {
			err = errors.New("not set")
		}
		set <- err
	}()
	killSleeper(t, app)
	is.NoErr(<-set) // an outcome is tried again
	is.Equal(count(t, schema, `SELECT count(*) FROM workflows WHERE id = 'wf' AND status = 'SUCCESS'`), 1)
}

// killSleeper waits for a backend of app to sleep in pg_sleep and
// terminates it.
func killSleeper(t *testing.T, app string) {
	t.Helper()
	db := rawDB(t, testURL(t))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := db.QueryRow(`SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event = 'PgSleep'`, app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no backend of the store slept in its commit")
}
