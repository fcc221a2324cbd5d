package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

func send(t *testing.T, s store.Store, dest, topic, payload string) {
	is := is.New(t)
	is.NoErr(s.Send(t.Context(), store.SendParams{DestinationID: dest, Topic: topic, Payload: []byte(payload), Now: t0})) // send
}

// consume takes the next message of topic, recording it as step n.
func consume(t *testing.T, s store.Store, id, topic string, n int) (string, bool) {
	is := is.New(t)
	b, ok, err := s.ConsumeMessage(t.Context(), store.ConsumeParams{
		WorkflowID: id, Topic: topic, Step: store.Step{WorkflowID: id, StepID: n, Name: "recv", CompletedAt: t0},
	})
	is.NoErr(err) // consume
	return string(b), ok
}

func testMessages(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("FIFO per topic, each message once, recorded with its step", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("dest", 0))
		send(t, s, "dest", "a", `"a1"`)
		send(t, s, "dest", "b", `"b1"`)
		send(t, s, "dest", "a", `"a2"`)
		got, ok := consume(t, s, "dest", "a", 1)
		is.True(ok)
		is.Equal(got, `"a1"`) // oldest first
		got, ok = consume(t, s, "dest", "a", 2)
		is.True(ok)
		is.Equal(got, `"a2"`)
		_, ok = consume(t, s, "dest", "a", 3)
		is.True(!ok) // each message once
		got, ok = consume(t, s, "dest", "b", 3)
		is.True(ok)
		is.Equal(got, `"b1"`) // topics are separate
		steps, err := s.Steps(t.Context(), "dest")
		is.NoErr(err)
		is.Equal(len(steps), 3)                   // a miss records nothing
		is.Equal(string(steps[0].Output), `"a1"`) // the step holds the message
	})
	t.Run("missing destination", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		err := s.Send(t.Context(), store.SendParams{DestinationID: "nobody", Topic: "a", Payload: []byte("1")})
		is.True(errors.Is(err, store.ErrNotFound))
	})
	t.Run("idempotency key", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("d1", 0))
		create(t, s, params("d2", 1))
		for range 3 {
			is.NoErr(s.Send(t.Context(), store.SendParams{DestinationID: "d1", Topic: "a", Payload: []byte("1"), IdempotencyKey: "k"}))
		}
		is.NoErr(s.Send(t.Context(), store.SendParams{DestinationID: "d2", Topic: "a", Payload: []byte("2"), IdempotencyKey: "k"}))
		_, ok := consume(t, s, "d1", "a", 1)
		is.True(ok)
		_, ok = consume(t, s, "d1", "a", 2)
		is.True(!ok) // delivered once
		got, ok := consume(t, s, "d2", "a", 1)
		is.True(ok) // keys are per destination
		is.Equal(got, "2")
	})
	t.Run("send recorded as a step, and refused for a cancelled sender", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("dest", 0))
		create(t, s, params("sender", 1))
		step := &store.Step{WorkflowID: "sender", StepID: 1, Name: "send", Output: []byte("null"), CompletedAt: t0}
		is.NoErr(s.Send(t.Context(), store.SendParams{DestinationID: "dest", Topic: "a", Payload: []byte("1"), Step: step}))
		steps, err := s.Steps(t.Context(), "sender")
		is.NoErr(err)
		is.Equal(len(steps), 1) // recorded with the send
		_, err = s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "sender", Now: at(2)})
		is.NoErr(err)
		step2 := &store.Step{WorkflowID: "sender", StepID: 2, Name: "send", Output: []byte("null"), CompletedAt: t0}
		err = s.Send(t.Context(), store.SendParams{DestinationID: "dest", Topic: "a", Payload: []byte("2"), Step: step2})
		is.True(errors.Is(err, store.ErrCancelled)) // the sender must stop
		_, ok := consume(t, s, "dest", "a", 1)
		is.True(ok)
		_, ok = consume(t, s, "dest", "a", 2)
		is.True(!ok) // and its message was not sent
	})
	t.Run("concurrent consumers get each message once", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("dest", 0))
		const msgs, consumers = 100, 8
		for i := range msgs {
			send(t, s, "dest", "jobs", fmt.Sprint(i))
		}
		var mu sync.Mutex
		var got []string
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, consumers)
		for c := range consumers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for n := 0; ; n++ {
					b, ok, err := s.ConsumeMessage(t.Context(), store.ConsumeParams{WorkflowID: "dest", Topic: "jobs",
						Step: store.Step{WorkflowID: "dest", StepID: c*1000 + n, Name: "recv", CompletedAt: t0}})
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					got = append(got, string(b))
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			is.NoErr(err) // consume
		}
		is.Equal(len(got), msgs) // every message, none twice
		sort.Slice(got, func(i, j int) bool { return len(got[i]) < len(got[j]) || len(got[i]) == len(got[j]) && got[i] < got[j] })
		for i := range msgs {
			is.Equal(got[i], fmt.Sprint(i))
		}
	})
}

func testCancelWorkflow(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	ctx := t.Context()
	create(t, s, params("run", 0))
	create(t, s, params("done", 1))
	finish(t, s, "done", 2)

	wf, err := s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "run", Now: at(3)})
	is.NoErr(err)
	is.Equal(wf.Status, store.StatusCancelled)  // cancelled
	is.Equal(wf.CompletedAt.UTC(), at(3).UTC()) // at that time
	wf, err = s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "done", Now: at(4)})
	is.NoErr(err)
	is.Equal(wf.Status, store.StatusSuccess) // a finished workflow stays finished
	_, err = s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "nope"})
	is.True(errors.Is(err, store.ErrNotFound))

	err = s.RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "run", StepID: 1, Name: "late", Output: []byte("1")}})
	is.True(errors.Is(err, store.ErrCancelled)) // no step after a cancel
	ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "run", Status: store.StatusSuccess, Output: []byte("1")})
	is.NoErr(err)
	is.True(!ok) // a late outcome does not overwrite CANCELLED
	got, err := s.GetWorkflow(ctx, "run")
	is.NoErr(err)
	is.Equal(got.Status, store.StatusCancelled)
}

func testEvents(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	ctx := t.Context()
	create(t, s, params("wf", 0))
	_, ok, err := s.GetEvent(ctx, "wf", "progress")
	is.NoErr(err)
	is.True(!ok) // not set yet
	for i, v := range []string{"0.1", "0.5"} {
		step := &store.Step{WorkflowID: "wf", StepID: i + 1, Name: "setEvent", Output: []byte("null"), CompletedAt: t0}
		is.NoErr(s.SetEvent(ctx, store.EventParams{WorkflowID: "wf", Key: "progress", Value: []byte(v), Now: at(i), Step: step}))
	}
	is.NoErr(s.SetEvent(ctx, store.EventParams{WorkflowID: "wf", Key: "other", Value: []byte(`"x"`), Now: at(3)}))
	b, ok, err := s.GetEvent(ctx, "wf", "progress")
	is.NoErr(err)
	is.True(ok)
	is.Equal(string(b), "0.5") // the last value wins
	steps, err := s.Steps(ctx, "wf")
	is.NoErr(err)
	is.Equal(len(steps), 2) // each set with a step recorded it
	err = s.SetEvent(ctx, store.EventParams{WorkflowID: "nope", Key: "k", Value: []byte("1")})
	is.True(errors.Is(err, store.ErrNotFound))
}

func testStreams(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	ctx := t.Context()
	create(t, s, params("wf", 0))
	write := func(v string, n int) error {
		step := &store.Step{WorkflowID: "wf", StepID: n, Name: "write", Output: []byte("null"), CompletedAt: t0}
		return s.WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "out", Value: []byte(v), Step: step})
	}
	is.NoErr(write("0", 1))
	is.NoErr(write("1", 2))
	is.NoErr(write("1", 2)) // a replayed write, recorded already: nothing new
	is.NoErr(write("2", 3))
	got, closed, err := s.ReadStream(ctx, "wf", "out", 0)
	is.NoErr(err)
	is.True(!closed)
	is.Equal(got, []store.StreamEntry{{Offset: 0, Value: []byte("0")}, {Offset: 1, Value: []byte("1")}, {Offset: 2, Value: []byte("2")}}) // in order, no duplicate
	got, _, err = s.ReadStream(ctx, "wf", "out", 2)
	is.NoErr(err)
	is.Equal(got, []store.StreamEntry{{Offset: 2, Value: []byte("2")}}) // from an offset
	is.NoErr(s.WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "out", Close: true}))
	got, closed, err = s.ReadStream(ctx, "wf", "out", 0)
	is.NoErr(err)
	is.True(closed)       // closed after its values
	is.Equal(len(got), 3) // the close is not a value
	err = s.WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "out", Value: []byte("3")})
	is.True(errors.Is(err, store.ErrStreamClosed))
	got, closed, err = s.ReadStream(ctx, "wf", "empty", 0)
	is.NoErr(err)
	is.True(!closed && len(got) == 0) // an unknown stream is empty and open
}

func testDeadlinesAndParents(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	ctx := t.Context()
	p := params("parent", 0)
	p.Deadline = at(60)
	create(t, s, p)
	c := params("child", 1)
	c.ParentID = "parent"
	create(t, s, c)
	create(t, s, params("other", 2))
	got, err := s.GetWorkflow(ctx, "parent")
	is.NoErr(err)
	is.Equal(got.Deadline.UTC(), at(60).UTC()) // the deadline round-trips
	list, err := s.ListWorkflows(ctx, store.ListParams{ParentID: "parent"})
	is.NoErr(err)
	is.Equal(ids(list), []string{"child"}) // children by parent

	_, _, err = s.Enqueue(ctx, store.EnqueueParams{Queue: "q", WorkflowCreateParams: params("queued", 3)})
	is.NoErr(err)
	_, _, err = s.Enqueue(ctx, store.EnqueueParams{Queue: "other-q", WorkflowCreateParams: params("elsewhere", 4)})
	is.NoErr(err)
	list, err = s.ListWorkflows(ctx, store.ListParams{Queue: "q"})
	is.NoErr(err)
	is.Equal(ids(list), []string{"queued"}) // by queue
}

// testWatch checks a store that wakes waiters does wake them.
func testWatch(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	w, ok := s.(store.Watcher)
	if !ok {
		t.Skip("this store does not implement store.Watcher; the engine polls it")
	}
	is := is.New(t)
	_, err := s.RegisterInstance(t.Context(), store.InstanceParams{ID: "inst", ExecutorID: "e", ApplicationVersion: "v1"})
	is.NoErr(err)
	owned := params("wf", 0)
	owned.Owner = "inst"
	create(t, s, owned)
	create(t, s, params("victim", 0))
	victim := params("victim-owned", 0)
	victim.Owner = "inst"
	create(t, s, victim)
	for _, c := range []struct {
		key   string
		write func() error
	}{
		{store.KeyMessages("wf", "a"), func() error {
			return s.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("1")})
		}},
		{store.KeyEvent("wf", "k"), func() error {
			return s.SetEvent(t.Context(), store.EventParams{WorkflowID: "wf", Key: "k", Value: []byte("1")})
		}},
		{store.KeyStream("wf", "s"), func() error {
			return s.WriteStream(t.Context(), store.StreamWrite{WorkflowID: "wf", Key: "s", Value: []byte("1")})
		}},
		{store.KeyWorkflow("wf"), func() error {
			_, err := s.SetOutcome(t.Context(), store.OutcomeParams{WorkflowID: "wf", Status: store.StatusSuccess, Output: []byte("1")})
			return err
		}},
		{store.KeyQueue("q"), func() error {
			_, _, err := s.Enqueue(t.Context(), store.EnqueueParams{Queue: "q", WorkflowCreateParams: params("queued", 1)})
			return err
		}},
		{store.KeyCancelled("inst"), func() error {
			_, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "victim-owned"})
			return err
		}},
	} {
		ch, stop := w.Watch(t.Context(), store.WatchParams{Keys: []string{c.key}})
		is.NoErr(c.write())
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no wake-up for %q within 5 s", c.key)
		}
		stop()
	}

	// A watch wakes for its own keys only.
	ch, stop := w.Watch(t.Context(), store.WatchParams{Keys: []string{store.KeyMessages("wf", "other-topic")}})
	defer stop()
	is.NoErr(s.Send(t.Context(), store.SendParams{DestinationID: "wf", Topic: "a", Payload: []byte("2")}))
	_, err = s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "victim"})
	is.NoErr(err)
	select {
	case <-ch:
		t.Fatal("woken by a message of another topic, or by an unrelated cancel")
	default:
	}
}
