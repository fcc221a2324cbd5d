package sqlite

import (
	"encoding/json"
	"time"
)

// The change log carries keyed wake-ups between processes sharing a
// file: see migration 0005. Writing it costs one INSERT per transaction
// that wakes anything, and only while another store listens (see
// listeners.go); reading it happens only when PRAGMA data_version says
// another connection committed, while an eager watch exists.

// pruneEvery is how often the writer deletes log entries older than
// keepChanges. A process that did not read the log for longer (it had no
// eager watch) wakes all its watchers once instead.
const (
	pruneEvery  = 10 * time.Second
	keepChanges = time.Minute
)

// logChanges records, in the batch's transaction, the keys the committed
// writes of todo wake.
func (w *writer) logChanges(tx *wtx, todo []*write) error {
	var keys []string
	for _, wr := range todo {
		if wr.err == nil {
			keys = append(keys, wr.wakes()...)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	now := time.Now()
	if others, err := othersListen(tx, w.origin, now); err != nil || !others {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO changes (origin, keys, at) VALUES (?, ?, ?)`, w.origin, string(b), now.UnixMilli()); err != nil {
		return err
	}
	if now.Sub(w.pruned) > pruneEvery {
		if _, err := tx.Exec(`DELETE FROM changes WHERE at < ?`, now.Add(-keepChanges).UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM listeners WHERE seen_at < ?`, now.Add(-listenForget).UnixMilli()); err != nil {
			return err
		}
		w.pruned = now
	}
	return nil
}

type change struct {
	Seq    int64  `db:"seq"`
	Origin string `db:"origin"`
	Keys   string `db:"keys"`
}

// readChanges wakes the watchers of the keys other processes committed
// since the last read. When entries it had not read were pruned it wakes
// every watcher, and on an error too: a spurious wake-up is harmless, a
// missed one is not.
func (w *writer) readChanges() {
	var rows []change
	last := w.lastSeq.Load()
	if err := w.db.Select(&rows, `SELECT seq, origin, keys FROM changes WHERE seq > ? ORDER BY seq`, last); err != nil {
		w.hub.notifyAll()
		return
	}
	if len(rows) > 0 && rows[0].Seq != last+1 {
		w.hub.notifyAll() // a gap: pruned before this process read it
	}
	for _, r := range rows {
		w.lastSeq.Store(r.Seq)
		if r.Origin == w.origin {
			continue // woken at commit already
		}
		var keys []string
		if err := json.Unmarshal([]byte(r.Keys), &keys); err != nil {
			w.hub.notifyAll()
			continue
		}
		w.hub.notify(keys)
	}
}

// lastChange returns the newest sequence number the log has given, 0 if
// none: from sqlite_sequence, which AUTOINCREMENT keeps even when every
// entry is pruned, so the next entry is always lastChange()+1.
func (w *writer) lastChange() int64 {
	var seq int64
	w.db.Get(&seq, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)`)
	return seq
}
