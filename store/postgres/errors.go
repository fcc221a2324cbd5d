package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dboslite/dboslite/store"
)

// ErrOutcomeUnknown is returned by a write that must not be applied twice
// (Claim, ConsumeMessage, Send without an idempotency key, WriteStream,
// RegisterInstance, ExpireInstances) when the connection failed, or its
// context ended, while its COMMIT was under way: the write may or may not
// have committed, so it is not tried again. The error wraps the cause.
var ErrOutcomeUnknown = store.ErrOutcomeUnknown

// translate turns driver errors into store errors: no rows is
// store.ErrNotFound, a write refused by a read-only transaction (a store
// opened read-only) store.ErrReadOnly. It is the one place that maps
// errors to the store's; classify is the one that says which are
// transient. A closed Store is known by its own flag (see retry):
// database/sql does not export the error it returns then.
func translate(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == readOnlyTransaction {
		return fmt.Errorf("%w (%w)", store.ErrReadOnly, err)
	}
	return err
}

// commitError marks the error of a COMMIT, or of a statement that commits
// on its own: a write whose fate the error may leave unknown.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// committing marks err, if not nil, as the error of a commit.
func committing(err error) error {
	if err == nil {
		return nil
	}
	return &commitError{err}
}

// fault is what classify says of an error.
type fault struct {
	// transient: the same call may succeed if it is made again.
	transient bool
	// unsure: the write may have committed although it failed; never set
	// unless the error is a commit's.
	unsure bool
}

// SQLSTATE codes that a try again may cure.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	adminShutdown        = "57P01"
	crashShutdown        = "57P02"
	cannotConnectNow     = "57P03"
	tooManyConnections   = "53300"
	uniqueViolation      = "23505"
	readOnlyTransaction  = "25006"
)

// classify says whether err is transient and whether the write it ended
// may have committed anyway. It is the one place that knows which driver
// errors are worth another try:
//
//   - the server rolled the transaction back to resolve a conflict
//     (serialization failure, deadlock): transient, not committed;
//   - nothing was sent (pgx says it is safe to retry; database/sql's
//     ErrBadConn; a connection that could not be made, refused, or met
//     "too many connections" or a server starting up): transient, not
//     committed;
//   - the connection was lost, or the server shut the session down, in
//     the middle of a transaction: transient, and not committed, as the
//     server rolls back a transaction whose connection is gone; but if it
//     happened during the COMMIT, or during a statement that commits on
//     its own, the write may have committed;
//   - the context ended: not transient; the write may have committed if
//     that happened during its commit;
//   - anything else, and any other error the server reports (which undoes
//     the statement): not transient.
func classify(err error) fault {
	if err == nil {
		return fault{}
	}
	var ce *commitError
	inCommit := errors.As(err, &ce)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case serializationFailure, deadlockDetected, tooManyConnections:
			return fault{transient: true}
		case adminShutdown, crashShutdown, cannotConnectNow:
			return fault{transient: true, unsure: inCommit}
		}
		if len(pe.Code) == 5 && pe.Code[:2] == "08" { // connection exception
			return fault{transient: true, unsure: inCommit}
		}
		return fault{}
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fault{unsure: inCommit}
	case pgconn.SafeToRetry(err), errors.Is(err, driver.ErrBadConn), errors.Is(err, syscall.ECONNREFUSED):
		return fault{transient: true}
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return fault{transient: true}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return fault{transient: true, unsure: inCommit}
	}
	return fault{}
}
