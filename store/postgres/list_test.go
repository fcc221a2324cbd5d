package postgres_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// insertRaw inserts workflow id in tx, as a store of another process
// would, without committing.
func insertRaw(t *testing.T, tx *sql.Tx, id string) {
	t.Helper()
	if _, err := tx.Exec(`INSERT INTO workflows (id, name, status, executor_id, app_version, created_at, updated_at)
		VALUES ($1, 'f', 'PENDING', 'e', 'v1', 0, 0)`, id); err != nil {
		t.Fatal(err)
	}
}

// listSettled lists p's IDs again until they are want or a few seconds
// have passed: a transaction of another test may hold rows back too.
func listSettled(t *testing.T, s *postgres.Store, p store.ListParams, want []string) []string {
	is := is.New(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		wfs, err := s.ListWorkflows(t.Context(), p)
		is.NoErr(err) // list
		got := make([]string, len(wfs))
		for i, wf := range wfs {
			got[i] = wf.ID
		}
		if slices.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listIDs(t *testing.T, s *postgres.Store, p store.ListParams) []string {
	is := is.New(t)
	wfs, err := s.ListWorkflows(t.Context(), p)
	is.NoErr(err) // list
	out := make([]string, len(wfs))
	for i, wf := range wfs {
		out[i] = wf.ID
	}
	return out
}

// TestPagesHoldBackUnsettledRows shows why a page never passes a row
// that appears later (see list.go): workflow a takes its transaction ID
// and its identity value before b does, and commits after b. A reader
// that listed b and went on after it would never list a. So a listing
// that may be continued holds b back while a's transaction is open, and
// lists a before b once it has ended.
func TestPagesHoldBackUnsettledRows(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := setup(t)
	db := schemaDB(t, s.Schema())
	tx, err := db.BeginTx(ctx, nil)
	is.NoErr(err) // another process's transaction
	defer tx.Rollback()
	insertRaw(t, tx, "a")
	_, _, err = s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "b", Name: "f"})
	is.NoErr(err) // b commits first

	is.Equal(listIDs(t, s, store.ListParams{Limit: 10}), []string{})                                 // a page holds b back
	is.Equal(listIDs(t, s, store.ListParams{}), []string{"b"})                                       // a listing that cannot be continued has it
	is.Equal(listIDs(t, s, store.ListParams{Limit: 10, Descending: true}), []string{"b"})            // as has a descending one
	is.NoErr(tx.Commit())                                                                            // a commits
	is.Equal(listSettled(t, s, store.ListParams{Limit: 10}, []string{"a", "b"}), []string{"a", "b"}) // then a page lists both, a first
}

// TestAShortPageWaitsForAShortTransaction lists while a transaction that
// holds rows back is open for a moment, as another process's insert is:
// the page waits for it to end and lists every row, rather than come
// short and be taken for the end.
func TestAShortPageWaitsForAShortTransaction(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := setup(t)
	db := schemaDB(t, s.Schema())
	tx, err := db.BeginTx(ctx, nil)
	is.NoErr(err) // another process's transaction
	defer tx.Rollback()
	insertRaw(t, tx, "a")
	_, _, err = s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "b", Name: "f"})
	is.NoErr(err) // b commits first
	go func() {
		time.Sleep(200 * time.Millisecond) // the other process's work before its commit
		tx.Commit()
	}()
	is.Equal(listIDs(t, s, store.ListParams{Limit: 10}), []string{"a", "b"}) // one page, both
}

// TestRowsAreInTransactionOrder shows that listings are in the order of
// the inserting transactions, not of the identity values: c's
// transaction begins writing before d's and inserts after it, and c is
// listed first. That order is what lets a page stop at the oldest
// transaction still open.
func TestRowsAreInTransactionOrder(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := setup(t)
	db := schemaDB(t, s.Schema())
	tx, err := db.BeginTx(ctx, nil)
	is.NoErr(err) // another process's transaction
	defer tx.Rollback()
	_, err = tx.Exec(`SELECT pg_current_xact_id()`)
	is.NoErr(err) // takes its transaction ID: it writes something else first
	_, _, err = s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "d", Name: "f"})
	is.NoErr(err)                                                    // d takes the first identity value, and commits
	is.Equal(listIDs(t, s, store.ListParams{Limit: 10}), []string{}) // d is held back by the open transaction, which has no row yet
	insertRaw(t, tx, "c")
	is.NoErr(tx.Commit())
	is.Equal(listSettled(t, s, store.ListParams{Limit: 10}, []string{"c", "d"}), []string{"c", "d"}) // c first
	is.Equal(listIDs(t, s, store.ListParams{}), []string{"c", "d"})                                  // in every listing
}

// TestReadersHoldNothingBack lists while a transaction that only reads is
// open: it has no transaction ID and holds no row back.
func TestReadersHoldNothingBack(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := setup(t)
	db := schemaDB(t, s.Schema())
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	is.NoErr(err) // a long report
	defer tx.Rollback()
	var n int
	is.NoErr(tx.QueryRow(`SELECT count(*) FROM workflows`).Scan(&n)) // that reads
	_, _, err = s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "e", Name: "f"})
	is.NoErr(err)                                                                          // create
	is.Equal(listSettled(t, s, store.ListParams{Limit: 10}, []string{"e"}), []string{"e"}) // listed while the reader is open
}

// TestWatchReadOnly wakes a read-only store's watcher with another
// store's commit: it listens, though it notifies nothing.
func TestWatchReadOnly(t *testing.T) {
	is := is.New(t)
	s := setup(t)
	ro := openWith(t, withParam(testURL(t), "schema", s.Schema()), store.OpenOptions{ReadOnly: true})
	is.True(!ro.Notifying()) // no notifier
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, stop := ro.Watch(ctx, store.WatchParams{Keys: []string{store.KeyWorkflow("wf")}})
	defer stop()
	_, _, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err) // another store commits
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("the read-only store's watcher was not woken")
	}
}
