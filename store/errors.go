package store

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned when no workflow has the requested ID, and
	// by OpenWith with OpenOptions.Existing for a database that does not
	// exist.
	ErrNotFound = errors.New("store: workflow not found")

	// ErrConflict is returned when a write would change a record that is
	// already recorded differently, such as a second, different result for
	// the same (workflow, step number).
	ErrConflict = errors.New("store: conflicting record")

	// ErrCancelled is returned when a step would be recorded for a
	// CANCELLED workflow: the workflow must stop.
	ErrCancelled = errors.New("store: workflow is cancelled")

	// ErrNotOwner is returned by a write made for a workflow on behalf of
	// an instance that no longer owns it: another instance adopted it.
	// The writer must stop running the workflow.
	ErrNotOwner = errors.New("store: workflow is owned by another instance")

	// ErrInstanceLost is returned by Heartbeat for an instance that was
	// stopped or declared dead: its workflows may have been adopted. It is
	// also returned by a call that would give work to an instance that is
	// dead or unknown (CreateWorkflow, Claim, RecoverWorkflow).
	ErrInstanceLost = errors.New("store: instance was declared dead")

	// ErrOutcomeUnknown is returned by a write that is not safe to apply
	// twice when the connection failed during its commit: it may or may
	// not have committed. The caller must find out from the database.
	ErrOutcomeUnknown = errors.New("store: the write may or may not have committed")

	// ErrSchemaTooOld is matched by the *SchemaError of a database opened
	// with OpenOptions.Existing whose schema this binary would have to
	// migrate first.
	ErrSchemaTooOld = errors.New("store: database schema is older than this binary's")

	// ErrReadOnly is returned by a write to a store opened read-only.
	ErrReadOnly = errors.New("store: opened read-only")

	// ErrStreamClosed is returned by a write to a closed stream.
	ErrStreamClosed = errors.New("store: stream is closed")

	// ErrClosed is returned by a store that has been closed.
	ErrClosed = errors.New("store: closed")

	// ErrDeduplicated is returned by Enqueue when another active workflow
	// of the queue holds the deduplication ID; the error is a
	// *DeduplicatedError.
	ErrDeduplicated = errors.New("store: deduplication ID in use")

	// ErrUnsupportedURL is returned by Open for a URL that is not one of the
	// accepted forms, or whose backend is not linked in. The message says
	// what to write instead and never shows a password.
	ErrUnsupportedURL = errors.New("store: unsupported system database URL")

	// ErrSchemaTooNew is returned by Open for a database that a newer
	// program has migrated past the migrations this one knows; the error is
	// a *SchemaError.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
)

// UnsupportedURL returns an error matching ErrUnsupportedURL that says why
// url is refused and lists the accepted forms. The URL is shown as
// RedactURL shows it. Backends return it for the URLs of their scheme that
// they refuse.
func UnsupportedURL(url, why string) error {
	return urlErrorf(url, "%s; accepted are %s", why, urlForms)
}

// urlErrorf returns an error matching ErrUnsupportedURL that shows url
// redacted, then the formatted reason.
func urlErrorf(url, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrUnsupportedURL, quote(RedactURL(url)), fmt.Sprintf(format, args...))
}

// DeduplicatedError reports an enqueue refused because workflow HolderID,
// still active in Queue, holds DeduplicationID. It matches ErrDeduplicated.
type DeduplicatedError struct {
	Queue           string
	DeduplicationID string
	HolderID        string
}

func (e *DeduplicatedError) Error() string {
	return fmt.Sprintf("store: deduplication ID %q of queue %q is held by workflow %s", e.DeduplicationID, e.Queue, e.HolderID)
}

// Is makes errors.Is(err, ErrDeduplicated) true.
func (e *DeduplicatedError) Is(target error) bool { return target == ErrDeduplicated }

// SchemaError reports a database whose schema is at Version, past Known,
// the newest migration this program embeds: a newer program has used it.
// Open changes nothing in such a database. It matches ErrSchemaTooNew.
type SchemaError struct {
	Version int // the newest migration applied to the database
	Known   int // the newest migration this program knows
}

// Error names both versions and what to do.
func (e *SchemaError) Error() string {
	if e.Version < e.Known {
		return fmt.Sprintf("store: database schema is version %d; this binary needs %d: start the application (a newer one) once to migrate it", e.Version, e.Known)
	}
	return fmt.Sprintf("store: database schema is version %d; this binary knows up to %d: upgrade the program", e.Version, e.Known)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true for a newer schema, and
// errors.Is(err, ErrSchemaTooOld) for an older one.
func (e *SchemaError) Is(target error) bool {
	return target == ErrSchemaTooNew && e.Version > e.Known || target == ErrSchemaTooOld && e.Version < e.Known
}
