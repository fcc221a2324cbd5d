package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// pair opens two stores on one new schema, as two processes would.
func pair(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	u := schemaURL(t)
	return open(t, u), open(t, u)
}

// woken reports whether ch receives within d.
func woken(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// eventually waits up to 5 s for cond.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// crossCase is a write through one store and the keys it must wake in
// another.
type crossCase struct {
	name  string
	keys  []string
	write func() error
}

// crossCases returns a write of each kind through a, in an order that
// makes each possible: the workflows it needs exist, owned by "inst".
func crossCases(t *testing.T, a *postgres.Store) []crossCase {
	t.Helper()
	is := is.New(t)
	ctx := t.Context()
	_, err := a.RegisterInstance(ctx, store.InstanceParams{ID: "inst", ExecutorID: "e"})
	is.NoErr(err) // register
	for _, id := range []string{"wf", "run"} {
		_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: id, Name: "f", Owner: "inst"})
		is.NoErr(err) // create
	}
	enq := func(id string) error {
		_, _, err := a.Enqueue(ctx, store.EnqueueParams{Queue: "q", WorkflowCreateParams: store.WorkflowCreateParams{ID: id, Name: "f"}})
		return err
	}
	claim := func() error {
		_, err := a.Claim(ctx, store.ClaimParams{Queue: "q", Names: []string{"f"}, ExecutorID: "e", Owner: "inst", Max: 1})
		return err
	}
	return []crossCase{
		{"create", []string{store.KeyWorkflow("new")}, func() error {
			_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "new", Name: "f"})
			return err
		}},
		{"enqueue", []string{store.KeyWorkflow("q1"), store.KeyQueue("q")}, func() error { return enq("q1") }},
		{"claim", []string{store.KeyWorkflow("q1")}, claim},
		{"outcome of a queued workflow", []string{store.KeyWorkflow("q1"), store.KeyQueue("q")}, func() error {
			_, err := a.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "q1", Status: store.StatusSuccess, Owner: "inst"})
			return err
		}},
		{"requeue", []string{store.KeyWorkflow("q2"), store.KeyQueue("q")}, func() error {
			if err := errors.Join(enq("q2"), claim()); err != nil {
				return err
			}
			_, err := a.Requeue(ctx, store.RequeueParams{WorkflowID: "q2", From: "inst", MaxAttempts: -1})
			return err
		}},
		{"recover", []string{store.KeyWorkflow("run")}, func() error {
			_, err := a.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: "run", From: "inst", Owner: "inst", MaxAttempts: -1})
			return err
		}},
		{"cancel", []string{store.KeyWorkflow("run"), store.KeyCancelled("inst")}, func() error {
			_, err := a.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "run"})
			return err
		}},
		{"cancel of a queued workflow", []string{store.KeyQueue("q")}, func() error {
			_, err := a.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "q2"})
			return err
		}},
		{"send", []string{store.KeyMessages("wf", "a")}, func() error {
			return a.Send(ctx, store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("1")})
		}},
		{"event", []string{store.KeyEvent("wf", "k")}, func() error {
			return a.SetEvent(ctx, store.EventParams{WorkflowID: "wf", Key: "k", Value: []byte("1")})
		}},
		{"stream", []string{store.KeyStream("wf", "s")}, func() error {
			return a.WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "s", Value: []byte("1")})
		}},
	}
}

// TestListenAcrossStores checks that every write that wakes a key wakes
// the watchers of another store: the keys a statement builds in SQL
// (queue, owner, claimed IDs) as well as those given to it.
func TestListenAcrossStores(t *testing.T) {
	a, b := pair(t)
	for _, c := range crossCases(t, a) {
		is := is.New(t)
		chans := make([]<-chan struct{}, len(c.keys))
		for i, k := range c.keys {
			ch, stop := b.Watch(t.Context(), store.WatchParams{Keys: []string{k}})
			defer stop()
			chans[i] = ch
		}
		is.NoErr(c.write()) // the write
		for i, ch := range chans {
			if !woken(ch, 5*time.Second) {
				t.Fatalf("%s: the other store's watcher of %q was not woken", c.name, c.keys[i])
			}
		}
	}
}

// TestListenOtherKeys checks that a commit of another store wakes the
// watchers of its keys and no others.
func TestListenOtherKeys(t *testing.T) {
	is := is.New(t)
	a, b := pair(t)
	ctx := t.Context()
	created, stop0 := b.Watch(ctx, store.WatchParams{Keys: []string{store.KeyWorkflow("wf")}})
	defer stop0()
	_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err)                          // create
	is.True(woken(created, 5*time.Second)) // heard by b before b watches what follows
	mine, stop := b.Watch(ctx, store.WatchParams{Keys: []string{store.KeyMessages("wf", "a")}})
	defer stop()
	other, stop2 := b.Watch(ctx, store.WatchParams{Keys: []string{store.KeyMessages("wf", "b"), store.KeyWorkflow("wf")}})
	defer stop2()

	is.NoErr(a.Send(ctx, store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("1")})) // send through a
	is.True(woken(mine, 5*time.Second))                                                            // b's watcher of the topic wakes
	is.True(!woken(other, 200*time.Millisecond))                                                   // b's watcher of other keys does not
}

// TestListenReconnects kills the listening connection's backend: the feed
// is lost, comes back, and every watcher is woken once it is back.
func TestListenReconnects(t *testing.T) {
	is := is.New(t)
	a, b := pair(t)
	ctx := t.Context()
	_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err) // create
	keys := []string{store.KeyWorkflow("x"), store.KeyMessages("wf", "a"), store.KeyQueue("q")}
	var chans []<-chan struct{}
	for _, k := range keys {
		ch, stop := b.Watch(ctx, store.WatchParams{Keys: []string{k}})
		defer stop()
		chans = append(chans, ch)
	}
	is.True(!b.FeedLost()) // listening

	b.SetListenerPause(time.Second) // long enough to see the loss
	kill(t, b.ListenerPID())
	is.True(eventually(b.FeedLost))                           // the loss is seen
	drain(chans...)                                           // woken at the loss, so that they poll
	is.True(eventually(func() bool { return !b.FeedLost() })) // and the feed comes back
	for i, ch := range chans {
		if !woken(ch, time.Second) {
			t.Fatalf("the watcher of %q was not woken when the feed came back", keys[i])
		}
		is.True(!woken(ch, 50*time.Millisecond)) // once
	}
	is.Equal(b.ListenerConns(), int64(2)) // one reconnection

	is.NoErr(a.Send(ctx, store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("1")})) // send through a
	is.True(woken(chans[1], 5*time.Second))                                                        // heard on the new connection
}

// TestListenQuiet checks that a quiet listening connection, pinged after
// each idle spell, stays the same connection and keeps listening.
func TestListenQuiet(t *testing.T) {
	is := is.New(t)
	a, b := pair(t)
	ctx := t.Context()
	b.SetListenerIdle(10 * time.Millisecond)
	_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err) // create
	ch, stop := b.Watch(ctx, store.WatchParams{Keys: []string{store.KeyMessages("wf", "a")}})
	defer stop()
	time.Sleep(300 * time.Millisecond) // many idle spells

	is.NoErr(a.Send(ctx, store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("1")})) // send through a
	is.True(woken(ch, 5*time.Second))                                                              // still heard
	is.True(!b.FeedLost())                                                                         // never lost
	is.Equal(b.ListenerConns(), int64(1))                                                          // on the first connection
}

// TestCloseLeavesNoGoroutine closes a store whose listener reconnected
// and which has watches still open.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	is := is.New(t)
	u := schemaURL(t)
	admin := rawDB(t, testURL(t))
	is.NoErr(admin.Ping()) // the test's own connection, made before the count
	before := goleak.IgnoreCurrent()
	s, err := postgres.Open(t.Context(), u)
	is.NoErr(err) // open
	_, stop := s.Watch(context.Background(), store.WatchParams{Keys: []string{store.KeyQueue("q")}})
	defer stop()
	killWith(t, admin, s.ListenerPID())
	is.True(eventually(func() bool { return s.ListenerConns() == 2 })) // reconnected
	is.NoErr(s.Close())
	goleak.VerifyNone(t, before)
}

// kill terminates a backend and waits for it to exit.
func kill(t *testing.T, pid uint32) {
	t.Helper()
	killWith(t, rawDB(t, testURL(t)), pid)
}

func killWith(t *testing.T, db *sql.DB, pid uint32) {
	t.Helper()
	is := is.New(t)
	var ok bool
	err := db.QueryRowContext(context.Background(), `SELECT pg_terminate_backend($1, 5000)`, int(pid)).Scan(&ok)
	is.NoErr(err) // terminate
	is.True(ok)   // the backend exited
}

// drain empties channels of a pending wake-up.
func drain(chans ...<-chan struct{}) {
	for _, ch := range chans {
		select {
		case <-ch:
		default:
		}
	}
}

// TestListenLongKey writes for a workflow whose ID is too long for a
// notification's payload: the write succeeds, and other stores wake
// every watcher instead.
func TestListenLongKey(t *testing.T) {
	is := is.New(t)
	a, b := pair(t)
	ctx := t.Context()
	long := strings.Repeat("x", 8000)
	ch, stop := b.Watch(ctx, store.WatchParams{Keys: []string{store.KeyMessages(long, "a")}})
	defer stop()
	bystander, stop2 := b.Watch(ctx, store.WatchParams{Keys: []string{store.KeyQueue("unrelated")}})
	defer stop2()
	_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: long, Name: "f"})
	is.NoErr(err)                                                                                  // a long ID is no error
	is.NoErr(a.Send(ctx, store.SendParams{DestinationID: long, Topic: "a", Payload: []byte("1")})) // nor a write for it
	is.True(woken(ch, 5*time.Second))                                                              // its watcher wakes
	is.True(woken(bystander, 5*time.Second))                                                       // as does every other
}
