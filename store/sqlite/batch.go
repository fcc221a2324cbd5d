package sqlite

import (
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// A batch's writes run in one transaction, each in a savepoint, and each
// is reported only once its outcome is sure: committed (nil) once the
// COMMIT of the transaction it last ran in has succeeded; failed only when
// its changes surely are not in the database, because its savepoint was
// rolled back in a transaction that went on, or the whole transaction was
// rolled back. Nothing commits but the writer's COMMIT (guard.go), so a
// transaction that is rolled back leaves nothing behind.
//
// When the transaction dies in the middle of a batch (SQLite rolled it
// back, or a savepoint could not be released or rolled back to), the
// write whose statement failed gets its error. The writes before it were
// rolled back with the transaction and have no outcome yet: they run
// again, with the writes after it, in a fresh transaction. Each such round
// settles one write, so a batch ends.

// maxCommitTries bounds how often a batch whose COMMIT fails is run.
const maxCommitTries = 3

// A BEGIN IMMEDIATE still busy after busy_timeout is tried again, backing
// off from busyMin to busyMax, until busyLimit has passed.
const (
	busyMin   = 5 * time.Millisecond
	busyMax   = 250 * time.Millisecond
	busyLimit = time.Minute
)

// commit runs a batch until each write's outcome is sure, then reports to
// each.
func (w *writer) commit(batch []write) {
	todo := make([]*write, len(batch))
	for i := range batch {
		todo[i] = &batch[i]
	}
	for tries := 0; len(todo) > 0; {
		again, err := w.run(todo)
		if err != nil { // the COMMIT failed and settled nothing
			if tries++; tries == maxCommitTries {
				settle(again, err)
				break
			}
		}
		todo = again
	}
	for _, wr := range batch {
		if keys := wr.wakes(); wr.err == nil && len(keys) > 0 {
			w.hub.notify(keys)
		}
		wr.done <- wr.err
	}
}

// settle sets the outcome of writes.
func settle(writes []*write, err error) {
	for _, wr := range writes {
		wr.err = err
	}
}

// run runs writes in one transaction. It sets the outcome of the writes it
// settles and returns those to run again in a fresh transaction; err is
// the COMMIT's error when that failed and nothing was settled.
func (w *writer) run(todo []*write) (again []*write, err error) {
	tx, err := w.begin()
	if err != nil {
		settle(todo, fmt.Errorf("sqlite: begin: %w", translate(err))) // nothing ran
		return nil, nil
	}
	start := w.guard.rollbacks.Load()
	t := &wtx{Tx: tx, w: w}
	if len(todo) == 1 {
		// Alone, a write needs no savepoint: its failure rolls back the
		// whole transaction.
		wr := todo[0]
		if wr.err = wr.call(t); wr.err == nil && w.guard.rollbacks.Load() != start {
			wr.err = errRolledBack
		}
		if wr.err != nil {
			if err := w.abort(tx, start); err != nil {
				wr.err = fmt.Errorf("%w (%w)", wr.err, err)
			}
			return nil, nil
		}
	} else {
		for i, wr := range todo {
			if w.savepoint(t, wr, start) {
				continue
			}
			if err := w.abort(tx, start); err != nil {
				// Open still, maybe: nothing in it can commit, but a
				// fresh one cannot begin either, so none runs again.
				own := wr.err
				settle(todo, err)
				wr.err = fmt.Errorf("%w (%w)", own, err)
				return nil, nil
			}
			return append(todo[:i], todo[i+1:]...), nil
		}
	}
	if err := w.logChanges(t, todo); err != nil {
		// Nothing is committed yet: run the batch again, as after a
		// failed COMMIT.
		if aerr := w.abort(tx, start); aerr != nil {
			settle(todo, fmt.Errorf("sqlite: log changes: %w (%w)", err, aerr))
			return nil, nil
		}
		return todo, fmt.Errorf("sqlite: log changes: %w", err)
	}
	return w.end(tx, todo, start)
}

// savepoint runs a write inside a savepoint, so that its failure undoes
// only its own changes, and sets its outcome. It reports whether the
// transaction survived: it did not if SQLite rolled it back during the
// write, and is treated as dead if the savepoint could not be rolled back
// to or released. Either way the write's own outcome is an error.
func (w *writer) savepoint(tx *wtx, wr *write, start uint64) bool {
	if _, err := tx.Exec("SAVEPOINT w"); err != nil {
		wr.err = fmt.Errorf("sqlite: savepoint: %w", err)
		return false
	}
	wr.err = wr.call(tx)
	if w.guard.rollbacks.Load() != start {
		if wr.err == nil {
			wr.err = errRolledBack
		}
		return false
	}
	if wr.err != nil {
		if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
			wr.err = fmt.Errorf("%w (sqlite: rollback to savepoint: %w)", wr.err, err)
			return false
		}
	}
	if _, err := tx.Exec("RELEASE w"); err != nil {
		if wr.err == nil {
			wr.err = fmt.Errorf("sqlite: release savepoint: %w", err)
		} else {
			wr.err = fmt.Errorf("%w (sqlite: release savepoint: %w)", wr.err, err)
		}
		return false
	}
	return true
}

// abort rolls back a transaction the writer gives up on. When SQLite has
// rolled it back already, the ROLLBACK fails for want of a transaction;
// its error matters only if no rollback was seen since BEGIN (start), for
// then the transaction may still be open.
func (w *writer) abort(tx *sqlx.Tx, start uint64) error {
	if err := tx.Rollback(); err != nil && w.guard.rollbacks.Load() == start {
		return fmt.Errorf("sqlite: rollback: %w", err)
	}
	return nil
}

// end commits the transaction of todo. It returns the writes to run again
// and the COMMIT's error if that failed.
//
// A COMMIT that fails commits nothing. SQLite either rolled the
// transaction back or, on SQLITE_BUSY, left it open; modernc.org/sqlite's
// Commit then rolls it back itself, as database/sql takes the connection
// back as if the transaction were over either way. So the COMMIT cannot be
// tried again, but the batch can: no write of it has been reported. (In
// WAL mode a COMMIT needs no lock beyond the one BEGIN IMMEDIATE took, so
// SQLITE_BUSY is not expected here at all.) If no rollback was seen, the
// transaction may be open still: it cannot commit, and the writes are
// reported failed rather than run again.
func (w *writer) end(tx *sqlx.Tx, todo []*write, start uint64) ([]*write, error) {
	w.guard.committing.Store(true)
	err := tx.Commit()
	w.guard.committing.Store(false)
	if err == nil {
		return nil, nil
	}
	err = fmt.Errorf("sqlite: commit: %w", translate(err))
	if w.guard.rollbacks.Load() == start {
		settle(todo, err)
		return nil, nil
	}
	return todo, err
}

// begin starts a transaction with BEGIN IMMEDIATE (the DSN sets _txlock).
// SQLite waits busy_timeout for another connection's write lock before it
// answers SQLITE_BUSY. No write has run then, and failing them would only
// make their callers try again: the writer tries again itself, backing
// off, until the lock is free, the writer is stopped or busyLimit has
// passed.
func (w *writer) begin() (*sqlx.Tx, error) {
	tx, err := w.db.Beginx()
	if !isBusy(err) {
		return tx, err
	}
	deadline := time.Now().Add(busyLimit)
	delay := busyMin
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		if w.busyHook != nil {
			w.busyHook()
		}
		select {
		case <-timer.C:
		case <-w.quit:
			return nil, store.ErrClosed
		}
		tx, err = w.db.Beginx()
		if !isBusy(err) || time.Now().After(deadline) {
			return tx, err
		}
		delay = min(2*delay, busyMax)
		timer.Reset(delay)
	}
}
