package sqlite

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/oklog/ulid/v2"

	"github.com/dboslite/dboslite/store"
)

// maxBatch bounds how many queued writes one transaction commits together.
const maxBatch = 256

// A write is one store operation: a function run inside the writer's
// transaction, and where its result goes once the transaction commits.
type write struct {
	fn      func(tx *wtx) error
	keys    []string // what watchers to wake once it commits
	learned []string // more keys, added by fn as it runs (wtx.notify)
	done    chan error
	err     error // its outcome, reported once sure: see batch.go
}

// call runs a write's function in tx, afresh: see do.
func (wr *write) call(tx *wtx) error {
	tx.cur, wr.learned = wr, nil
	return wr.fn(tx)
}

// wakes returns the keys a committed write wakes.
func (wr *write) wakes() []string { return append(wr.keys, wr.learned...) }

// Another process's commits are noticed by polling PRAGMA data_version on
// the writer's connection, which changes only when another connection
// commits (our readers never write); then the change log says which keys
// they woke. The poll runs only while an eager watch exists, backing off
// from pollMin to pollMax while nothing changes.
const (
	pollMin = 2 * time.Millisecond
	pollMax = 40 * time.Millisecond
)

// writer owns the single writer connection. One goroutine takes queued
// writes and commits them together in one BEGIN IMMEDIATE transaction
// (group commit), each inside its own savepoint so one failing write does
// not undo the others. Throughput under concurrency comes from batching,
// not from more writers: SQLite has one write lock either way.
type writer struct {
	db       *sqlx.DB
	hub      *hub
	guard    *txGuard   // what SQLite did to the transaction: see guard.go
	version  *sqlx.Stmt // PRAGMA data_version, used only by the loop
	queue    chan write
	quit     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once

	// Owned by the writer goroutine: see stmt.go.
	stmts      map[string]*sqlx.Stmt
	unprepared map[string]struct{}

	// busyHook, if set, is called each time BEGIN finds the database
	// locked by another connection: tests wait for it.
	busyHook func()

	// The change log (changes.go), owned by the writer goroutine.
	origin  string       // this store's name in the log
	lastSeq atomic.Int64 // the newest entry read (atomic for tests only)
	pruned  time.Time    // when old entries were last deleted

	// The listeners table (listeners.go): listening is read by FeedLost,
	// listenedAt only by the writer goroutine.
	listening  atomic.Bool
	listenedAt time.Time // the last refresh of this store's row
}

// startWriter starts the writer of db, whose connections carry the hooks
// of guard, and arms the guard.
func startWriter(db *sqlx.DB, h *hub, guard *txGuard) *writer {
	w := &writer{db: db, hub: h, guard: guard, queue: make(chan write), quit: make(chan struct{}),
		stopped: make(chan struct{}), stmts: map[string]*sqlx.Stmt{}, unprepared: map[string]struct{}{},
		origin: ulid.Make().String()}
	// The version first, then the log's end, both before Open returns: a
	// commit after the version moves it, and its entries are after the
	// position read, so none is missed.
	version := w.dataVersion()
	w.lastSeq.Store(w.lastChange())
	guard.armed.Store(true)
	go w.loop(version)
	return w
}

// do runs fn in the writer's transaction and returns once that transaction
// has committed or failed. A ctx cancelled before the write is taken
// returns ctx.Err() and writes nothing; once taken, do waits for the
// outcome, so it never reports a retryable error for a write that may have
// committed.
//
// fn may run more than once: when SQLite rolls back a transaction, the
// writes that ran in it run again in the next (see batch.go). Only the
// last run counts, so fn sets whatever it returns to its caller afresh on
// each run.
func (w *writer) do(ctx context.Context, keys []string, fn func(tx *sqlx.Tx) error) error {
	return w.doPrepared(ctx, keys, func(tx *wtx) error { return fn(tx.Tx) })
}

// doPrepared is do for a write whose statements the writer keeps prepared:
// the hot path.
func (w *writer) doPrepared(ctx context.Context, keys []string, fn func(tx *wtx) error) error {
	if w == nil {
		return store.ErrReadOnly // a read-only store has no writer
	}
	wr := write{fn: fn, keys: keys, done: make(chan error, 1)}
	select {
	case w.queue <- wr:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return store.ErrClosed
	}
	return <-wr.done
}

func (w *writer) loop(version int) {
	defer close(w.stopped)
	batch := make([]write, 0, maxBatch)
	var poll *time.Timer
	var tick <-chan time.Time
	interval := pollMin
	// A stale version after an idle spell costs one spurious read of the
	// log; a version read only when the first waiter arrives could miss a
	// commit.
	for {
		if tick == nil && w.hub.watching() {
			poll = time.NewTimer(interval)
			tick = poll.C
		}
		select {
		case wr := <-w.queue:
			batch = append(batch[:0], wr)
		case <-w.hub.armed:
			continue
		case <-tick:
			tick = nil
			if !w.hub.watching() {
				continue // the last eager watch ended: nobody to wake
			}
			w.listen()
			if v := w.dataVersion(); v != version {
				version, interval = v, pollMin
				w.readChanges()
			} else {
				interval = min(interval*2, pollMax)
			}
			continue
		case <-w.quit:
			if poll != nil {
				poll.Stop()
			}
			w.unlisten()
			if w.version != nil {
				w.version.Close()
			}
			w.closeStmts()
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case wr := <-w.queue:
				batch = append(batch, wr)
			default:
				break collect
			}
		}
		w.commit(batch)
		if len(w.unprepared) > 0 {
			w.prepare()
		}
	}
}

// dataVersion reads PRAGMA data_version, -1 on error. The statement is
// prepared once: parsing it each time would cost more than running it.
func (w *writer) dataVersion() int {
	if w.version == nil {
		stmt, err := w.db.Preparex("PRAGMA data_version")
		if err != nil {
			return -1
		}
		w.version = stmt
	}
	var v int
	if err := w.version.Get(&v); err != nil {
		return -1
	}
	return v
}

// stop ends the writer goroutine once. It reports whether this call
// stopped it.
func (w *writer) stop() bool {
	first := false
	w.stopOnce.Do(func() {
		first = true
		close(w.quit)
		<-w.stopped
	})
	return first
}
