package sqlite

import "time"

// Only a store that follows the change log needs it written: a commit
// logs its keys only while another store is in the listeners table
// (migration 0008), so a program alone with its file pays nothing for
// wake-ups across processes.
//
// A store joins the table while it has eager watches, and refreshes its
// row every listenRefresh; writers count a row as a listener for
// listenLease after its refresh. A store that could not refresh for
// listenStale (its process was paused, its writer busy, the clock
// jumped) may have missed entries, as may a store that has just joined:
// until it has joined again it reports its feed lost, so waiters poll,
// and once it has, it wakes all its watchers, so each looks again.
const (
	listenRefresh = 5 * time.Second
	listenStale   = 20 * time.Second
	listenLease   = 30 * time.Second
	// listenForget is how old a row must be for a writer's prune to
	// delete it: a process that died without leaving the table.
	listenForget = time.Hour
)

// listen keeps this store in the listeners table: it joins, or refreshes
// its row when due. Called by the writer's loop while an eager watch
// exists.
func (w *writer) listen() {
	now := time.Now()
	since, wall := now.Sub(w.listenedAt), now.Round(0).Sub(w.listenedAt.Round(0))
	fresh := w.listening.Load() && since < listenStale && wall < listenStale && wall > -listenStale
	if fresh && since < listenRefresh {
		return
	}
	if !fresh {
		w.listening.Store(false)
	}
	batch := []write{{done: make(chan error, 1), fn: func(tx *wtx) error {
		_, err := tx.Exec(`INSERT INTO listeners (origin, seen_at) VALUES (?, ?)
			ON CONFLICT (origin) DO UPDATE SET seen_at = excluded.seen_at`, w.origin, now.UnixMilli())
		return err
	}}}
	if w.commit(batch); batch[0].err != nil {
		return // not listening: waiters poll, and the next tick tries again
	}
	w.listenedAt = now
	if !fresh {
		w.listening.Store(true)
		w.hub.notifyAll() // what others committed while this store was not listed was not logged for it
	}
}

// unlisten leaves the listeners table, as the store closes.
func (w *writer) unlisten() {
	if !w.listening.Load() {
		return
	}
	w.listening.Store(false)
	w.commit([]write{{done: make(chan error, 1), fn: func(tx *wtx) error {
		_, err := tx.Exec(`DELETE FROM listeners WHERE origin = ?`, w.origin)
		return err
	}}})
}

// othersListen reports whether another store follows the change log.
func othersListen(tx *wtx, origin string, now time.Time) (bool, error) {
	var n int
	err := tx.Get(&n, `SELECT count(*) FROM listeners WHERE origin != ? AND seen_at > ?`,
		origin, now.Add(-listenLease).UnixMilli())
	return n > 0, err
}
