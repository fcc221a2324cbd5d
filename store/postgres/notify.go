package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// Every write that wakes watchers (see the Key functions of package store)
// wakes this process's watchers as soon as it commits, and hands its keys
// to the store's notifier, which sends them on the schema's channel after
// the commit: one pg_notify per key, the key as payload, many keys in one
// statement. Each process's listener (listen.go) wakes its watchers of
// each key it receives.
//
// Why after the commit and not inside the write's transaction: PostgreSQL
// serialises the commits of every transaction that notifies, database-
// wide, through their WAL flush, which halved the throughput of
// concurrent workflows. The notifier's statement writes nothing, so it
// assigns no transaction ID and flushes nothing. The price is a window: a
// process that dies between a commit and its notification sends none.
// Waiters therefore re-read what they wait for every RecheckEvery even
// while the feed is up (see store.Rechecker).

// maxPayload is the longest key sent as its own payload: PostgreSQL
// refuses payloads of 8000 bytes or more. A longer key, which no sane ID
// makes, is sent as wakeAll.
const maxPayload = 7900

// wakeAll is the payload that wakes every watcher. No key is "*": each
// starts with a letter and a separator.
const wakeAll = "*"

// maxNotifyBatch bounds the keys one statement sends.
const maxNotifyBatch = 1000

// recheckEvery is how often waiters re-read what they wait for, to cover
// a notification lost with the process that was to send it.
const recheckEvery = 5 * time.Second

// channel returns the notification channel of a schema: an identifier of
// at most 63 bytes, as ParseURL bounds the schema's name.
func channel(schema string) string { return "dboslite_" + schema }

// wake wakes the watchers of keys, in this process at once and in the
// others through the notifier. Call it after the commit that changed
// what the keys name.
func (s *Store) wake(keys ...string) {
	if len(keys) == 0 {
		return
	}
	s.hub.notify(keys...)
	if s.notifier != nil { // nil when read-only: nothing to tell
		s.notifier.send(keys)
	}
}

// RecheckEvery implements store.Rechecker.
func (s *Store) RecheckEvery() time.Duration { return recheckEvery }

// notifier sends keys on a channel, in batches, from one goroutine: the
// keys of the commits made while one batch is in flight go in the next.
type notifier struct {
	db      *sqlx.DB
	channel string

	mu      sync.Mutex
	pending map[string]struct{}
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func startNotifier(db *sqlx.DB, channel string) *notifier {
	n := &notifier{db: db, channel: channel, pending: map[string]struct{}{}, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	go n.loop()
	return n
}

// send queues keys to be sent.
func (n *notifier) send(keys []string) {
	n.mu.Lock()
	for _, k := range keys {
		if len(k) > maxPayload {
			k = wakeAll
		}
		n.pending[k] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// take returns the pending keys, at most maxNotifyBatch, and forgets them.
func (n *notifier) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	keys := make([]string, 0, min(len(n.pending), maxNotifyBatch))
	for k := range n.pending {
		if len(keys) == maxNotifyBatch {
			break
		}
		keys = append(keys, k)
		delete(n.pending, k)
	}
	return keys
}

func (n *notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.kick:
		case <-n.quit:
			n.flush() // what was committed before Close
			return
		}
		n.flush()
	}
}

// flush sends every pending key. A batch that fails is tried once more,
// then dropped: waiters recheck on their own (recheckEvery).
func (n *notifier) flush() {
	for keys := n.take(); len(keys) > 0; keys = n.take() {
		for try := 0; try < 2; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := n.db.ExecContext(ctx, `SELECT pg_notify($1, k) FROM unnest($2::text[]) AS k`, n.channel, keys)
			cancel()
			if err == nil {
				break
			}
		}
	}
}

// stop sends what is pending and ends the notifier.
func (n *notifier) stop() {
	close(n.quit)
	<-n.done
}
