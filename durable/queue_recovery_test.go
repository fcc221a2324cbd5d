package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

func TestQueueRecoveryKeepsTheLimits(t *testing.T) {
	const n, limit = 8, 2
	is := is.New(t)
	v := setup(t)
	ctx := t.Context()

	// A process of this executor claimed n workflows of queue q and died.
	s := v.open()
	for i := range n {
		_, _, err := s.Enqueue(ctx, store.EnqueueParams{Queue: "q", WorkflowCreateParams: store.WorkflowCreateParams{
			ID: fmt.Sprintf("w-%d", i), Name: "work", Input: []byte(`"k"`), ExecutorID: "local", ApplicationVersion: "v1",
		}})
		is.NoErr(err)
	}
	claimed, err := s.Claim(ctx, store.ClaimParams{Queue: "q", Names: []string{"work"}, ExecutorID: "local",
		ApplicationVersion: "v1", Max: n})
	is.NoErr(err)
	is.Equal(len(claimed), n) // all PENDING, as if running when the process died

	e := v.engine()
	var iv intervals
	register(t, e, "work", iv.worker(5*time.Millisecond))
	registerQueue(t, e, queue.Queue{Name: "q", GlobalConcurrency: limit})
	launch(t, e)
	for i := range n {
		h, err := durable.Retrieve[string](ctx, e, fmt.Sprintf("w-%d", i))
		is.NoErr(err)
		_, err = h.Result(ctx)
		is.NoErr(err) // recovered and run
		wf := v.workflow(h.ID())
		is.Equal(wf.Status, store.StatusSuccess)
		is.Equal(wf.RecoveryAttempts, 2) // the first run and one recovery
	}
	is.Equal(len(iv.spans), n)          // each ran once after the crash
	is.True(iv.maxOverlap("") <= limit) // through the queue's limit, not all at once
}

// enqueueCounter counts the enqueues that reach the store.
type enqueueCounter struct {
	store.Store
	n atomic.Int64
}

func (c *enqueueCounter) Enqueue(ctx context.Context, p store.EnqueueParams) (store.Workflow, bool, error) {
	c.n.Add(1)
	return c.Store.Enqueue(ctx, p)
}

func TestQueueEnqueueFromWorkflowIsCheckpointed(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := t.Context()
	var calls counter
	child := func(ctx context.Context, in string) (string, error) {
		calls.inc("child")
		return in + "!", nil
	}
	parent := func(w **durable.Workflow[string, string]) func(context.Context, string) (string, error) {
		return func(ctx context.Context, in string) (string, error) {
			h, err := (*w).Start(ctx, in, durable.WithQueue("q"))
			if err != nil {
				return "", err
			}
			if _, err := durable.Step(ctx, "after", func(context.Context) (int, error) { return 1, nil }); err != nil {
				return "", err
			}
			return h.Result(ctx)
		}
	}

	// The first process records the parent and the child's enqueue, then
	// dies before the next step is recorded.
	e1 := v.crashing(2)
	var child1 *durable.Workflow[string, string]
	child1 = register(t, e1, "child", child)
	p1 := register(t, e1, "parent", parent(&child1))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := p1.Run(ctx, "hi", durable.WithID("p")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))             // the crash
	is.Equal(v.workflow("p-1").Status, store.StatusEnqueued) // the child waits in its queue

	// The next process replays the parent: the enqueue is recorded, so it
	// is not made again, and its queue runs the child.
	counted := &enqueueCounter{Store: v.open()}
	e2 := v.engine(func(c *durable.Config) { c.Store = counted })
	var child2 *durable.Workflow[string, string]
	child2 = register(t, e2, "child", child)
	register(t, e2, "parent", parent(&child2))
	registerQueue(t, e2, queue.Queue{Name: "q"})
	launch(t, e2)
	h, err := durable.Retrieve[string](ctx, e2, "p")
	is.NoErr(err)
	got, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "hi!")                 // the parent got its child's result
	is.Equal(counted.n.Load(), int64(0)) // the replay did not enqueue again
	is.Equal(calls.get("child"), 1)      // the child ran once
	steps := v.steps("p")
	is.Equal(steps[0].Name, "child") // the enqueue is step 1 of the parent
	is.Equal(steps[0].ChildID, "p-1")
}

func TestQueueShutdownStopsDispatchers(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, ignorePgxClose) })
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	g := newGate()
	wf := register(t, e, "gated", g.workflow)
	registerQueue(t, e, queue.Queue{Name: "q", GlobalConcurrency: 1})
	registerQueue(t, e, queue.Queue{Name: "idle"})
	launch(t, e)
	ctx := t.Context()
	for i := range 3 {
		_, err := wf.Start(ctx, "x", durable.WithQueue("q"), durable.WithID(fmt.Sprintf("w-%d", i)))
		is.NoErr(err)
	}
	<-g.started // one runs, two wait in the queue
	is.NoErr(e.Shutdown(ctx))
	is.Equal(v.workflow("w-0").Status, store.StatusPending)  // the running one resumes at the next Launch
	is.Equal(v.workflow("w-1").Status, store.StatusEnqueued) // the others stay queued
	is.Equal(v.workflow("w-2").Status, store.StatusEnqueued)

	// The next Launch puts w-0 back in its queue and runs them all.
	e2 := v.engine()
	g2 := newGate()
	close(g2.open)
	register(t, e2, "gated", g2.workflow)
	registerQueue(t, e2, queue.Queue{Name: "q", GlobalConcurrency: 1})
	launch(t, e2)
	for i := range 3 {
		h, err := durable.Retrieve[string](ctx, e2, fmt.Sprintf("w-%d", i))
		is.NoErr(err)
		_, err = h.Result(ctx)
		is.NoErr(err) // each runs after the restart
	}
	is.Equal(v.workflow("w-0").RecoveryAttempts, 2) // w-0 was claimed twice
	is.NoErr(e2.Shutdown(ctx))
}
