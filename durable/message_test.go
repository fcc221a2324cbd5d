package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
)

// inbox receives n messages of topic "in" and joins them; a timeout ends
// it early with what it has.
func inbox(ctx context.Context, n int) (string, error) {
	out := ""
	for range n {
		msg, err := durable.Recv[string](ctx, "in", 10*time.Second)
		if errors.Is(err, durable.ErrTimeout) {
			return out + "|timeout", nil
		}
		if err != nil {
			return "", err
		}
		out += msg
	}
	return out, nil
}

func TestSendRecv(t *testing.T) {
	v := setup(t)
	e := v.engine()
	wf := register(t, e, "inbox", inbox)
	quick := register(t, e, "quick", func(ctx context.Context, timeout time.Duration) (string, error) {
		msg, err := durable.Recv[string](ctx, "in", timeout)
		if errors.Is(err, durable.ErrTimeout) {
			return "timeout", nil
		}
		return msg, err
	})
	launch(t, e)
	ctx := context.Background()

	t.Run("FIFO, each message once", func(t *testing.T) {
		is := is.New(t)
		h, err := wf.Start(ctx, 3, durable.WithID("box"))
		is.NoErr(err)
		for _, m := range []string{"a", "b", "c", "d"} {
			is.NoErr(e.Send(ctx, "box", "in", m))
		}
		is.NoErr(e.Send(ctx, "box", "other-topic", "x"))
		got, err := h.Result(ctx)
		is.NoErr(err)
		is.Equal(got, "abc") // in order, three of them
		steps := v.steps("box")
		is.Equal(len(steps), 6) // recv + its deadline, three times
		is.Equal(steps[0].Name, "durable.recv")
		is.Equal(steps[1].Name, "durable.sleep")
	})
	t.Run("timeout is not a message", func(t *testing.T) {
		is := is.New(t)
		got, err := quick.Run(ctx, 20*time.Millisecond, durable.WithID("to"))
		is.NoErr(err)
		is.Equal(got, "timeout")
		got, err = quick.Run(ctx, 0, durable.WithID("to0")) // 0 checks once
		is.NoErr(err)
		is.Equal(got, "timeout")
		steps := v.steps("to")
		is.Equal(len(steps), 2)
		is.True(steps[0].Output == nil) // the timeout is recorded, so a replay times out too
	})
	t.Run("idempotency key delivers once", func(t *testing.T) {
		is := is.New(t)
		h, err := quick.Start(ctx, 300*time.Millisecond, durable.WithID("idem"))
		is.NoErr(err)
		for range 3 {
			is.NoErr(e.Send(ctx, "idem", "in", "once", durable.WithIdempotencyKey("k1")))
		}
		got, err := h.Result(ctx)
		is.NoErr(err)
		is.Equal(got, "once")
		h2, err := quick.Start(ctx, 0, durable.WithID("idem-2"))
		is.NoErr(err)
		is.NoErr(e.Send(ctx, "idem-2", "in", "first", durable.WithIdempotencyKey("k1"))) // keys are per destination
		_, err = h2.Result(ctx)
		is.NoErr(err)
	})
	t.Run("bad input", func(t *testing.T) {
		is := is.New(t)
		err := e.Send(ctx, "nobody", "in", "x")
		is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // unknown destination
		err = e.Send(ctx, "box", "in", math.NaN())
		is.True(errors.Is(err, durable.ErrEncode)) // cannot encode
		_, err = durable.Recv[string](ctx, "in", time.Second)
		is.True(errors.Is(err, durable.ErrNotInWorkflow)) // outside a workflow
		is.True(errors.Is(durable.Sleep(ctx, time.Second), durable.ErrNotInWorkflow))
		is.True(errors.Is(durable.Send(ctx, "box", "in", "x"), durable.ErrNotInWorkflow))
		got, err := quick.Run(ctx, -time.Second, durable.WithID("neg"))
		is.True(errors.Is(err, durable.ErrInvalidTimeout)) // negative timeout
		is.Equal(got, "")
		is.Equal(len(v.steps("neg")), 0) // nothing recorded
	})
}

func TestRecvSurvivesRestartAndConsumesOnce(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	// The first process records the workflow, the first recv's deadline and
	// the first message; it dies before anything else.
	e1 := v.crashing(3)
	wf1 := register(t, e1, "inbox", inbox)
	launch(t, e1)
	h, err := wf1.Start(ctx, 2, durable.WithID("r"))
	is.NoErr(err)
	is.NoErr(v.engineSend(ctx, "r", "in", "x"))
	err = v.untilCrash(e1, func() error { _, err := h.Result(ctx); return err })
	is.True(errors.Is(err, durable.ErrShutdown)) // crashed

	e2 := v.engine()
	wf2 := register(t, e2, "inbox", inbox)
	launch(t, e2)
	is.NoErr(e2.Send(ctx, "r", "in", "y"))
	h2, err := wf2.Retrieve(ctx, "r")
	is.NoErr(err)
	got, err := h2.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "xy") // each message once, in order
}

// engineSend sends from a separate plain engine, as another program would.
func (v *env) engineSend(ctx context.Context, dest, topic string, msg any) error {
	e := v.engine(func(c *durable.Config) { c.ExecutorID = "sender" })
	return e.Send(ctx, dest, topic, msg)
}

func TestSendFromWorkflowIsNotRepeatedOnReplay(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	var calls counter
	sender := func(ctx context.Context, dest string) (int, error) {
		if err := durable.Send(ctx, dest, "in", "hello"); err != nil {
			return 0, err
		}
		return durable.Step(ctx, "after", func(ctx context.Context) (int, error) { calls.inc("after"); return 1, nil })
	}
	e0 := v.engine()
	box := register(t, e0, "inbox", inbox)
	launch(t, e0)
	hb, err := box.Start(ctx, 2, durable.WithID("dest"))
	is.NoErr(err)

	// Another process sends, then dies before its next step is recorded.
	e1 := v.crashing(2, func(c *durable.Config) { c.ExecutorID = "p1" })
	s1 := register(t, e1, "sender", sender)
	launch(t, e1)
	err = v.untilCrash(e1, func() error { _, err := s1.Run(ctx, "dest", durable.WithID("s")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))

	e2 := v.engine(func(c *durable.Config) { c.ExecutorID = "p1" })
	register(t, e2, "sender", sender)
	launch(t, e2) // recovers "s": the send is replayed, not repeated
	hs, err := durable.Retrieve[int](ctx, e2, "s")
	is.NoErr(err)
	_, err = hs.Result(ctx)
	is.NoErr(err)
	is.NoErr(e0.Send(ctx, "dest", "in", "!"))
	got, err := hb.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "hello!") // "hello" arrived once
}

func TestCrossProcessWakeUp(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e1 := v.engine()
	wf := register(t, e1, "inbox", inbox)
	launch(t, e1)
	// A second engine on the same file has its own store and connections,
	// as a second process has: only the data_version poll can wake e1.
	e2 := v.engine(func(c *durable.Config) { c.ExecutorID = "other" })
	launch(t, e2)
	for i := range 5 {
		id := fmt.Sprint("x", i)
		h, err := wf.Start(ctx, 1, durable.WithID(id))
		is.NoErr(err)
		start := time.Now()
		is.NoErr(e2.Send(ctx, id, "in", "ping"))
		got, err := h.Result(ctx)
		is.NoErr(err)
		is.Equal(got, "ping") // woken, not timed out after 10 s
		t.Logf("cross-engine wake-up after %v", time.Since(start))
	}
}

func TestEvents(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	ctx := context.Background()
	release := make(chan struct{})
	wf := register(t, e, "events", func(ctx context.Context, _ int) (int, error) {
		if err := durable.SetEvent(ctx, "progress", 0.5); err != nil {
			return 0, err
		}
		if _, err := durable.Step(ctx, "wait", func(ctx context.Context) (int, error) { <-release; return 0, nil }); err != nil {
			return 0, err
		}
		return 0, durable.SetEvent(ctx, "progress", 1.0)
	})
	reader := register(t, e, "reader", func(ctx context.Context, id string) (float64, error) {
		return durable.GetEvent[float64](ctx, e, id, "progress", 10*time.Second)
	})
	launch(t, e)
	h, err := wf.Start(ctx, 0, durable.WithID("ev"))
	is.NoErr(err)
	got, err := durable.GetEvent[float64](ctx, e, "ev", "progress", 10*time.Second)
	is.NoErr(err)
	is.Equal(got, 0.5) // waits until it is set
	_, err = durable.GetEvent[float64](ctx, e, "ev", "missing", 10*time.Millisecond)
	is.True(errors.Is(err, durable.ErrTimeout))
	_, err = durable.GetEvent[float64](ctx, e, "ev", "progress", -1)
	is.True(errors.Is(err, durable.ErrInvalidTimeout))
	close(release)
	_, err = h.Result(ctx)
	is.NoErr(err)
	got, err = durable.GetEvent[float64](ctx, e, "ev", "progress", 0)
	is.NoErr(err)
	is.Equal(got, 1.0) // the last value wins
	r, err := reader.Run(ctx, "ev", durable.WithID("rd"))
	is.NoErr(err)
	is.Equal(r, 1.0)
	steps := v.steps("rd")
	is.Equal(len(steps), 2) // getEvent and its deadline, checkpointed
	is.Equal(steps[0].Name, "durable.getEvent")
	is.True(errors.Is(durable.SetEvent(ctx, "k", 1), durable.ErrNotInWorkflow))
}

func TestStreams(t *testing.T) {
	v := setup(t)
	e := v.engine()
	ctx := context.Background()
	gate := make(chan struct{})
	wf := register(t, e, "streamer", func(ctx context.Context, closeIt bool) (int, error) {
		for i := range 5 {
			if err := durable.WriteStream(ctx, "nums", i); err != nil {
				return 0, err
			}
			if i == 2 {
				if _, err := durable.Step(ctx, "gate", func(ctx context.Context) (int, error) { <-gate; return 0, nil }); err != nil {
					return 0, err
				}
			}
		}
		if closeIt {
			if err := durable.CloseStream(ctx, "nums"); err != nil {
				return 0, err
			}
			err := durable.WriteStream(ctx, "nums", 99)
			if !errors.Is(err, durable.ErrStreamClosed) {
				return 0, fmt.Errorf("write after close: %v", err)
			}
		}
		return 5, nil
	})
	launch(t, e)
	read := func(id string, from int) ([]int, error) {
		var got []int
		for n, err := range durable.ReadStream[int](ctx, e, id, "nums", from) {
			if err != nil {
				return got, err
			}
			got = append(got, n)
		}
		return got, nil
	}
	t.Run("closed stream, read while written", func(t *testing.T) {
		is := is.New(t)
		h, err := wf.Start(ctx, true, durable.WithID("s1"))
		is.NoErr(err)
		done := make(chan []int)
		go func() {
			got, _ := read("s1", 0)
			done <- got
		}()
		close(gate)
		is.Equal(<-done, []int{0, 1, 2, 3, 4}) // every value, in order, then the end
		_, err = h.Result(ctx)
		is.NoErr(err)
		got, err := read("s1", 3)
		is.NoErr(err)
		is.Equal(got, []int{3, 4}) // from an offset
	})
	t.Run("ends when the workflow ends", func(t *testing.T) {
		is := is.New(t)
		_, err := wf.Run(ctx, false, durable.WithID("s2"))
		is.NoErr(err)
		got, err := read("s2", 0)
		is.NoErr(err)
		is.Equal(got, []int{0, 1, 2, 3, 4})
		_, err = read("nope", 0)
		is.True(errors.Is(err, durable.ErrWorkflowNotFound))
	})
}

// emptyCodec encodes the empty string as no bytes at all, as a custom
// codec may.
type emptyCodec struct{}

func (emptyCodec) Marshal(v any) ([]byte, error) {
	if s, ok := v.(string); ok && s == "" {
		return []byte{}, nil
	}
	return json.Marshal(v)
}

func (emptyCodec) Unmarshal(data []byte, v any) error {
	if p, ok := v.(*string); ok && len(data) == 0 {
		*p = ""
		return nil
	}
	return json.Unmarshal(data, v)
}

func TestEmptyPayloadsAreValuesNotTimeouts(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	v.configure = append(v.configure, func(c *durable.Config) { c.Codec = emptyCodec{} })
	var obs seen
	wf := func(e *durable.Engine) *durable.Workflow[int, string] {
		return register(t, e, "empty", func(ctx context.Context, _ int) (string, error) {
			obs.newRun()
			id := durable.WorkflowID(ctx)
			if err := durable.Send(ctx, id, "in", ""); err != nil {
				return "", err
			}
			m, err := durable.Recv[string](ctx, "in", time.Minute)
			obs.add("recv %q %v", m, err)
			if err := durable.SetEvent(ctx, "k", ""); err != nil {
				return "", err
			}
			ev, err := durable.GetEvent[string](ctx, e, id, "k", time.Minute)
			obs.add("event %q %v", ev, err)
			return durable.Step(ctx, "after", func(ctx context.Context) (string, error) { return "", nil })
		})
	}
	got, err := crashAndRecover(t, v, "after", "e", 0, wf)
	is.NoErr(err)
	is.Equal(got, "")
	runs := obs.get()
	is.Equal(runs[0], []string{`recv "" <nil>`, `event "" <nil>`}) // empty values, not timeouts
	is.Equal(runs[1], runs[0])                                     // on the replay too
}
