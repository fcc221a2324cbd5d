package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// Two stores on one file stand for two processes: a commit by one wakes
// the other's watchers of the keys it touched, and no others.
func TestChangesWakeOnlyTheirKeysAcrossProcesses(t *testing.T) {
	is := is.New(t)
	url := "sqlite:" + filepath.Join(t.TempDir(), "x.sqlite")
	a, err := Open(t.Context(), url)
	is.NoErr(err)
	defer a.Close()
	b, err := Open(t.Context(), url)
	is.NoErr(err)
	defer b.Close()

	_, _, err = a.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf", Name: "n", ApplicationVersion: "v1"})
	is.NoErr(err)
	mine, stop := b.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyMessages("wf", "a")}})
	defer stop()
	listening(t, b)
	drain(mine) // b's joining the listeners woke it once

	// A message of another topic: b reads the change, and wakes nobody.
	is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "b", Payload: []byte("1")}))
	seq := a.w.lastChange()
	deadline := time.Now().Add(5 * time.Second)
	for b.w.lastSeq.Load() < seq && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // b's poll reads the log on its own schedule; nothing signals it
	}
	is.True(b.w.lastSeq.Load() >= seq) // b read a's change
	select {
	case <-mine:
		t.Fatal("a message of another topic woke the watcher")
	default:
	}

	// A message of its topic wakes it.
	is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("2")}))
	select {
	case <-mine:
	case <-time.After(5 * time.Second):
		t.Fatal("another process's message did not wake the watcher within 5 s")
	}
}

// A reader that missed entries pruned before it read them wakes every
// watcher rather than lose a wake-up.
func TestChangesPrunedUnreadWakeEveryone(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "x.sqlite")
	a, err := Open(t.Context(), url)
	is.NoErr(err)
	defer a.Close()
	_, _, err = a.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf", Name: "n", ApplicationVersion: "v1"})
	is.NoErr(err)
	b, err := Open(t.Context(), url)
	is.NoErr(err)
	defer b.Close()
	_, stopFirst := b.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyEvent("wf", "first")}})
	listening(t, b)
	stopFirst() // b stops reading the log, and stays listed
	for range 3 {
		is.NoErr(a.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "x", Payload: []byte("1")}))
	}
	// Prune what b has not read, as a long idle spell would, from a
	// connection of its own (a's writer commits only its batches).
	raw, err := sql.Open("sqlite", filepath.Join(dir, "x.sqlite"))
	is.NoErr(err)
	defer raw.Close()
	_, err = raw.Exec(`DELETE FROM changes WHERE seq <= ?`, a.w.lastChange()-1)
	is.NoErr(err)
	unrelated, stop := b.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyEvent("wf", "nothing-sets-this")}})
	defer stop()
	select {
	case <-unrelated:
	case <-time.After(5 * time.Second):
		t.Fatal("a gap in the change log woke nobody")
	}
}
