package store

import (
	"context"
	"time"
)

// Watcher is implemented by stores that wake waiters when what they wait
// for may have changed, by key. The engine polls stores that do not
// implement it.
type Watcher interface {
	// Watch returns a channel that receives after a commit, by this
	// process or another, that may have changed what one of p.Keys names
	// (see the Key functions), and a function that stops the watch; the
	// watch stops too when ctx ends. Wake-ups coalesce: one receive may
	// stand for many commits, and a receive may be spurious, so a waiter
	// reads what it waits for again after each. Watch before reading, so
	// that no commit falls between the read and the wait.
	//
	// Commits of this process wake their watchers when they commit.
	// Commits of other processes wake them as the backend learns of them:
	// within milliseconds while an eager watch exists (Postgres: LISTEN;
	// SQLite: a change log read when PRAGMA data_version moves). A
	// Background watch does not make the backend look sooner: its owner
	// polls on its own, at its own pace.
	Watch(ctx context.Context, p WatchParams) (<-chan struct{}, func())

	// FeedLost reports whether commits of other processes may go unseen
	// now: the backend lost its feed of them (a dropped LISTEN connection)
	// and has not got it back. Waiters then poll. When the feed comes back
	// the backend wakes every watcher once, for what the gap may have
	// hidden.
	FeedLost() bool
}

// Rechecker is implemented by a Watcher whose wake-ups for other
// processes' commits may be lost without its feed being lost: a backend
// that notifies after the commit loses the notification of a process that
// dies in between. Waiters read what they wait for again at least every
// RecheckEvery.
type Rechecker interface {
	RecheckEvery() time.Duration
}

// WatchParams say what a watch waits for.
type WatchParams struct {
	Keys []string
	// Background marks a watch whose owner polls on its own anyway (a
	// queue's dispatcher): it keeps no poll of the backend running.
	Background bool
}

// The keys. Each store method that changes what a key names wakes its
// watchers, as listed on the key. Keys are text without NUL bytes, so a
// backend can carry them in a notification payload; two keys that differ
// only by a separator inside an ID may collide, which costs a spurious
// wake-up and nothing else.
const keySep = "\x1f"

// KeyWorkflow names a workflow's status. CreateWorkflow, Enqueue, Claim,
// SetOutcome, RecoverWorkflow, Requeue and CancelWorkflow wake it.
func KeyWorkflow(id string) string { return "w" + keySep + id }

// KeyMessages names the messages of one topic sent to a workflow. Send
// wakes it.
func KeyMessages(id, topic string) string { return "m" + keySep + id + keySep + topic }

// KeyEvent names one event of a workflow. SetEvent wakes it.
func KeyEvent(id, key string) string { return "e" + keySep + id + keySep + key }

// KeyStream names one stream of a workflow. WriteStream wakes it.
func KeyStream(id, key string) string { return "s" + keySep + id + keySep + key }

// KeyQueue names a queue's work: Enqueue and Requeue wake it when a
// workflow becomes ENQUEUED in it, and SetOutcome and CancelWorkflow
// when one of its workflows ends, freeing a slot.
func KeyQueue(name string) string { return "q" + keySep + name }

// KeyCancelled names the cancellations of the workflows an instance owns:
// CancelWorkflow wakes it for the owner of the workflow it cancels.
func KeyCancelled(owner string) string { return "c" + keySep + owner }
