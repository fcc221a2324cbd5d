package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// listening waits until s is listed as a listener of the change log.
func listening(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.FeedLost() {
		if time.Now().After(deadline) {
			t.Fatal("the store did not join the listeners within 5 s")
		}
		time.Sleep(time.Millisecond) // the writer joins on its own poll; nothing signals it
	}
}

// drain empties a watch's channel.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func changeCount(t *testing.T, path string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM changes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A store alone with its file writes no change log, even while it waits
// itself; once another store listens, its commits are logged and wake
// that store's watchers.
func TestAStoreAloneLogsNoChanges(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "x.sqlite")
	a, err := Open(t.Context(), "sqlite:"+path)
	is.NoErr(err)
	defer a.Close()
	own, stopOwn := a.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyMessages("wf", "t")}})
	defer stopOwn()
	listening(t, a)
	_, _, err = a.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf", Name: "n", ApplicationVersion: "v1"})
	is.NoErr(err)
	drain(own)
	is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "t", Payload: []byte("1")}))
	select {
	case <-own: // woken at commit, without the log
	case <-time.After(5 * time.Second):
		t.Fatal("a commit did not wake a watcher of its own store")
	}
	is.Equal(changeCount(t, path), 0) // nobody else listens: nothing logged

	b, err := Open(t.Context(), "sqlite:"+path)
	is.NoErr(err)
	defer b.Close()
	theirs, stop := b.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyMessages("wf", "t")}})
	defer stop()
	listening(t, b)
	drain(theirs)
	is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "t", Payload: []byte("2")}))
	is.Equal(changeCount(t, path), 1)
	select {
	case <-theirs:
	case <-time.After(5 * time.Second):
		t.Fatal("another store's commit did not wake a listener")
	}

	// b closes: it leaves the table, and a logs nothing any more.
	stop()
	is.NoErr(b.Close())
	is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "t", Payload: []byte("3")}))
	is.Equal(changeCount(t, path), 1)
}

// A listener that could not refresh its row in time (a paused process)
// may have missed commits that others no longer logged for it: once it
// notices, it joins again and wakes all its watchers.
func TestAStaleListenerWakesEveryone(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "x.sqlite")
	a, err := Open(t.Context(), "sqlite:"+path)
	is.NoErr(err)
	defer a.Close()
	_, _, err = a.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf", Name: "n", ApplicationVersion: "v1"})
	is.NoErr(err)
	b, err := Open(t.Context(), "sqlite:"+path)
	is.NoErr(err)
	defer b.Close()
	mine, stop := b.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyMessages("wf", "t")}})
	defer stop()
	listening(t, b)
	drain(mine)

	// b is paused for an hour, as far as a and b can tell.
	raw, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer raw.Close()
	_, err = raw.Exec(`UPDATE listeners SET seen_at = seen_at - ?`, time.Hour.Milliseconds())
	is.NoErr(err)
	is.NoErr(b.w.do(t.Context(), nil, func(tx *sqlx.Tx) error {
		b.w.listenedAt = b.w.listenedAt.Add(-time.Hour) // in the writer's goroutine, which owns it
		return nil
	}))
	drain(mine)

	// a's commit is logged or not, depending on whether b has joined
	// again yet; either way b's watcher wakes.
	is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "t", Payload: []byte("1")}))
	select {
	case <-mine:
	case <-time.After(5 * time.Second):
		t.Fatal("a stale listener did not wake its watchers on joining again")
	}
	is.True(!b.FeedLost()) // listed again
}
