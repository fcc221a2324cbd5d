package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/matryer/is"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dboslite/dboslite/store"
)

// openInternal opens a store on a new file for a test of the package's
// insides and closes it when the test ends.
func openInternal(t *testing.T, query string) *Store {
	is := is.New(t)
	s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "dboslite.db")+query)
	is.NoErr(err) // open
	t.Cleanup(func() { s.Close() })
	return s
}

// insertWrite is a write that inserts a workflow row with this ID.
func insertWrite(id string) write {
	return write{done: make(chan error, 1), fn: func(tx *wtx) error {
		_, err := tx.Tx.Exec(`INSERT INTO workflows (id, name, status, executor_id, app_version, created_at, updated_at)
			VALUES (?, 'w', 'PENDING', 'e', 'v', 0, 0)`, id)
		return err
	}}
}

// stored reports whether a workflow row with this ID is in the database,
// read through a connection of the reader pool.
func stored(t *testing.T, s *Store, id string) bool {
	is := is.New(t)
	var n int
	is.NoErr(s.reader.Get(&n, `SELECT count(*) FROM workflows WHERE id = ?`, id)) // read back
	return n == 1
}

// The tests below call the writer's commit with a batch they build, so
// that its writes surely share one transaction. That is safe while the
// writer's loop is idle: nothing has gone through it yet and nobody
// watches, so it touches neither the connection nor the statement cache.

// errKilled is what a write that stands for SQLite's own rollback returns.
var errKilled = errors.New("the transaction was rolled back")

// kills are writes during which the writer's transaction is rolled back.
var kills = map[string]func(id string) func(tx *wtx) error{
	// A ROLLBACK run on the transaction's connection does what SQLite
	// does on its own after such an error.
	"ROLLBACK": func(string) func(tx *wtx) error {
		return func(tx *wtx) error {
			if _, err := tx.Tx.Exec("ROLLBACK"); err != nil {
				return err
			}
			return errKilled
		}
	},
	// SQLite itself rolls back the whole transaction when a constraint
	// fails under the ROLLBACK conflict resolution.
	"INSERT OR ROLLBACK": func(string) func(tx *wtx) error {
		return func(tx *wtx) error {
			_, err := tx.Tx.Exec(`INSERT OR ROLLBACK INTO workflows (id, name, status, executor_id, app_version, created_at, updated_at)
				VALUES ('old', 'w', 'PENDING', 'e', 'v', 0, 0)`)
			if err == nil {
				return errors.New("no conflict: the row 'old' is missing")
			}
			return err
		}
	},
	// A write that ignores the error and goes on runs its next statement
	// with no transaction open, where it would commit on its own.
	"ROLLBACK, then an INSERT, no error": func(id string) func(tx *wtx) error {
		return func(tx *wtx) error {
			tx.Tx.Exec("ROLLBACK")
			insertWrite(id).fn(tx)
			return nil
		}
	},
}

// TestBatchRollback runs batches in which the whole transaction is rolled
// back in the middle, as SQLite may do on its own on SQLITE_FULL,
// SQLITE_IOERR, SQLITE_BUSY or SQLITE_NOMEM. Every write must be reported
// as it is: committed only if it is in the database, failed only if it is
// not; the good writes before and after the failed one commit, together.
func TestBatchRollback(t *testing.T) {
	for name, kill := range kills {
		for _, c := range []struct{ n, at int }{{1, 0}, {5, 0}, {5, 2}, {5, 4}} {
			t.Run(fmt.Sprintf("%s at %d of %d", name, c.at, c.n), func(t *testing.T) {
				is := is.New(t)
				s := openInternal(t, "")
				other, err := sql.Open("sqlite", s.Path())
				is.NoErr(err) // another connection
				defer other.Close()
				_, err = other.Exec(`INSERT INTO workflows (id, name, status, executor_id, app_version, created_at, updated_at)
					VALUES ('old', 'w', 'PENDING', 'e', 'v', 0, 0)`)
				is.NoErr(err) // a row from before the batch

				batch := make([]write, c.n)
				for i := range batch {
					batch[i] = insertWrite(fmt.Sprintf("w%d", i))
				}
				batch[c.at].fn = kill(fmt.Sprintf("w%d", c.at))
				commits := s.w.guard.commits.Load()
				s.w.commit(batch) // drives the writer's commit with a batch built here, as its loop would

				committed := 0
				for i, wr := range batch {
					err := <-wr.done
					if err == nil {
						committed++
					}
					is.Equal(stored(t, s, fmt.Sprintf("w%d", i)), err == nil) // reported committed if and only if it is in the database
					if i == c.at {
						is.True(err != nil) // the write during which the transaction died is reported failed
					} else {
						is.NoErr(err) // the good writes before and after it commit
					}
				}
				var rows int
				is.NoErr(s.reader.Get(&rows, `SELECT count(*) FROM workflows`)) // count rows
				is.Equal(rows, committed+1)                                     // nothing else committed
				want := uint64(1)
				if committed == 0 {
					want = 0
				}
				is.Equal(s.w.guard.commits.Load()-commits, want) // the good writes commit in one transaction, and nothing commits alone
			})
		}
	}
}

// TestBatchSavepoint is the common failure: a write fails and its
// transaction goes on. Its savepoint undoes it alone, the others commit
// together, and nothing runs twice: a ROLLBACK TO is not a rollback of
// the transaction.
func TestBatchSavepoint(t *testing.T) {
	is := is.New(t)
	s := openInternal(t, "")
	batch := []write{insertWrite("w0"), insertWrite("w1"), insertWrite("w2")}
	runs := 0
	first := batch[0].fn
	batch[0].fn = func(tx *wtx) error {
		runs++
		return first(tx)
	}
	failing := batch[1].fn
	batch[1].fn = func(tx *wtx) error {
		if err := failing(tx); err != nil {
			return err
		}
		return errKilled // after its INSERT
	}
	commits, rollbacks := s.w.guard.commits.Load(), s.w.guard.rollbacks.Load()
	s.w.commit(batch)

	is.NoErr(<-batch[0].done)                             // the write before commits
	is.True(errors.Is(<-batch[1].done, errKilled))        // the failing write gets its own error
	is.NoErr(<-batch[2].done)                             // the write after commits
	is.True(stored(t, s, "w0") && stored(t, s, "w2"))     // both are in the database
	is.True(!stored(t, s, "w1"))                          // the failed write's INSERT is undone
	is.Equal(runs, 1)                                     // nothing ran twice
	is.Equal(s.w.guard.commits.Load()-commits, uint64(1)) // in one transaction
	is.Equal(s.w.guard.rollbacks.Load(), rollbacks)       // that was never rolled back
}

// TestBatchFull fills the file in the middle of a batch: SQLITE_FULL, from
// a max_page_count the big write does not fit in. SQLite answers it by
// rolling back the whole transaction, savepoints and all.
func TestBatchFull(t *testing.T) {
	is := is.New(t)
	s := openInternal(t, "")
	var pages int
	is.NoErr(s.writer.Get(&pages, "PRAGMA page_count"))                         // the file's size
	_, err := s.writer.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+8)) // on the writer's one connection
	is.NoErr(err)                                                               // cap the file

	batch := []write{insertWrite("small-1"), insertWrite("big"), insertWrite("small-2")}
	batch[1].fn = func(tx *wtx) error {
		_, err := tx.Tx.Exec(`INSERT INTO workflows (id, name, status, input, executor_id, app_version, created_at, updated_at)
			VALUES ('big', 'w', 'PENDING', ?, 'e', 'v', 0, 0)`, make([]byte, 1<<20))
		return err
	}
	rollbacks := s.w.guard.rollbacks.Load()
	s.w.commit(batch)

	errs := make([]error, len(batch))
	for i, wr := range batch {
		errs[i] = <-wr.done
		is.Equal(stored(t, s, []string{"small-1", "big", "small-2"}[i]), errs[i] == nil) // reported committed if and only if it is in the database
	}
	var e *modernc.Error
	is.True(errors.As(errs[1], &e))                 // the big write fails with SQLite's error
	is.Equal(e.Code()&0xff, sqlite3.SQLITE_FULL)    // the file is full
	is.True(s.w.guard.rollbacks.Load() > rollbacks) // SQLite rolled back the whole transaction
	is.NoErr(errs[0])                               // the write before it commits, run again
	is.NoErr(errs[2])                               // the write after it commits
}

// TestBatchCommitFails makes the COMMIT fail: a write defers the foreign
// keys and breaks one, so COMMIT fails with SQLITE_CONSTRAINT and leaves
// the transaction open, and the driver rolls it back. A COMMIT that fails
// commits nothing, so the batch runs again, up to maxCommitTries times.
func TestBatchCommitFails(t *testing.T) {
	for _, c := range []struct {
		name   string
		breaks int // how many runs of the write break the key
	}{
		{"once: the batch runs again and commits", 1},
		{"each time: every write fails", maxCommitTries},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			s := openInternal(t, "")
			batch := []write{insertWrite("w0"), insertWrite("w1"), insertWrite("w2")}
			runs := 0
			batch[1].fn = func(tx *wtx) error {
				if runs++; runs > c.breaks {
					return insertWrite("w1").fn(tx)
				}
				if _, err := tx.Tx.Exec("PRAGMA defer_foreign_keys = ON"); err != nil {
					return err
				}
				_, err := tx.Tx.Exec(`INSERT INTO steps (workflow_id, step_id, name, started_at, completed_at)
					VALUES ('missing', 1, 's', 0, 0)`)
				return err
			}
			commits := s.w.guard.commits.Load()
			s.w.commit(batch)

			for i, wr := range batch {
				err := <-wr.done
				is.Equal(stored(t, s, fmt.Sprintf("w%d", i)), err == nil) // reported committed if and only if it is in the database
				if c.breaks < maxCommitTries {
					is.NoErr(err) // committed on the next run
					continue
				}
				var e *modernc.Error
				is.True(errors.As(err, &e))                        // SQLite's error
				is.Equal(e.Code()&0xff, sqlite3.SQLITE_CONSTRAINT) // from the COMMIT
			}
			is.Equal(runs, min(c.breaks+1, maxCommitTries)) // run again after each failed COMMIT, within the bound
			want := uint64(1)
			if c.breaks == maxCommitTries {
				want = 0
			}
			is.Equal(s.w.guard.commits.Load()-commits, want) // one COMMIT succeeded, or none
		})
	}
}

// TestBeginBusy holds the write lock from another connection for longer
// than the store's busy_timeout: a write waits for it instead of failing.
func TestBeginBusy(t *testing.T) {
	lock := func(t *testing.T, s *Store) *sql.Tx {
		is := is.New(t)
		other, err := sql.Open("sqlite", "file:"+s.Path()+"?_txlock=immediate")
		is.NoErr(err) // another connection, as of another process
		t.Cleanup(func() { other.Close() })
		tx, err := other.Begin()
		is.NoErr(err) // BEGIN IMMEDIATE takes the write lock
		return tx
	}
	// busy returns a channel that receives each time the writer's BEGIN
	// finds the database locked past its busy_timeout.
	busy := func(s *Store) <-chan struct{} {
		c := make(chan struct{}, 1)
		s.w.busyHook = func() { // set before the write is queued, so the writer sees it
			select {
			case c <- struct{}{}:
			default:
			}
		}
		return c
	}
	create := func(s *Store, id string) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, _, err := s.CreateWorkflow(context.Background(), store.WorkflowCreateParams{ID: id, Name: "f"})
			done <- err
		}()
		return done
	}

	t.Run("the write waits for the lock", func(t *testing.T) {
		is := is.New(t)
		s := openInternal(t, "?busy_timeout=20")
		held := lock(t, s)
		wasBusy := busy(s)
		done := create(s, "wf-1")
		<-wasBusy                 // BEGIN gave up after busy_timeout, at least once
		is.NoErr(held.Rollback()) // release the lock
		is.NoErr(<-done)          // the write succeeds
		_, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err) // and is in the database
	})

	t.Run("Close ends the wait", func(t *testing.T) {
		is := is.New(t)
		s := openInternal(t, "?busy_timeout=20")
		held := lock(t, s)
		defer held.Rollback()
		wasBusy := busy(s)
		done := create(s, "wf-1")
		<-wasBusy
		is.NoErr(s.Close())                         // close while the writer waits
		is.True(errors.Is(<-done, store.ErrClosed)) // the write is reported not done
	})
}
