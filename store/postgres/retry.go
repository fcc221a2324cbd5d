package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// kind says how safely an operation may be tried again.
type kind int

const (
	// read changes nothing: it may always be tried again.
	read kind = iota
	// idempotent is a write that changes nothing when applied a second
	// time (RecordStep, CreateWorkflow, Enqueue by ID, SetOutcome, Send
	// with an idempotency key, SetEvent, …): it may be tried again even
	// when its commit's fate is unknown.
	idempotent
	// once is a write that a second application would repeat or refuse
	// (Claim, ConsumeMessage, Send without a key, WriteStream,
	// RegisterInstance, ExpireInstances, a RecoverWorkflow from an owner
	// to itself): it is tried again only when it surely did not commit.
	once
)

// A transient error is tried again, after a pause that starts at
// backoffMin and doubles up to backoffMax, with jitter, until maxTries
// tries have been made: at most about 1.5 s of pauses, enough to ride out a dropped
// connection or a server's fast restart, short enough that a caller
// learns of an outage soon.
const (
	maxTries   = 7
	backoffMin = 25 * time.Millisecond
	backoffMax = 800 * time.Millisecond
)

// retry calls fn until it succeeds, fails for good, or has been tried
// maxTries times, trying again only what classify and k allow. fn must
// set whatever it returns to its caller afresh on each call. A write of
// kind once that may have committed fails with ErrOutcomeUnknown.
func (s *Store) retry(ctx context.Context, k kind, fn func() error) error {
	delay := backoffMin
	for try := 1; ; try++ {
		if s.closed.Load() {
			return store.ErrClosed
		}
		err := fn()
		if err == nil {
			return nil
		}
		if s.closed.Load() {
			return store.ErrClosed // database/sql's "database is closed" is not exported
		}
		f := classify(err)
		if k == once && f.unsure {
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		}
		if !f.transient || try == maxTries {
			return err
		}
		pause := delay/2 + rand.N(delay/2+1)
		delay = min(2*delay, backoffMax)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// inTx runs fn in a transaction of the pool and commits it. An error of
// the COMMIT is marked as such, for classify: the transaction may have
// committed although the COMMIT failed.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return committing(tx.Commit())
}
