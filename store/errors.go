package store

import "errors"

var (
	// ErrNotFound is returned when no workflow has the requested ID.
	ErrNotFound = errors.New("store: workflow not found")

	// ErrConflict is returned when a write would change a record that is
	// already recorded differently, such as a second, different result for
	// the same (workflow, step number).
	ErrConflict = errors.New("store: conflicting record")

	// ErrCancelled is returned when a step would be recorded for a
	// CANCELLED workflow: the workflow must stop.
	ErrCancelled = errors.New("store: workflow is cancelled")

	// ErrStreamClosed is returned by a write to a closed stream.
	ErrStreamClosed = errors.New("store: stream is closed")

	// ErrClosed is returned by a store that has been closed.
	ErrClosed = errors.New("store: closed")

	// ErrUnsupportedURL is returned by Open for a URL whose scheme no linked
	// backend accepts.
	ErrUnsupportedURL = errors.New("store: unsupported system database URL")
)
