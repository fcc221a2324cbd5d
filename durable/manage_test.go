package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// barrier holds the steps that wait on it until released or their
// context ends, and tells the test how many arrived.
type barrier struct {
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newBarrier() *barrier {
	return &barrier{arrived: make(chan struct{}, 1000), open: make(chan struct{})}
}

// wait is called by a step: it arrives, then waits.
func (b *barrier) wait(ctx context.Context) {
	b.arrived <- struct{}{}
	select {
	case <-b.open:
	case <-ctx.Done():
	}
}

// reachedN waits until n more steps arrived.
func (b *barrier) reachedN(n int) {
	for range n {
		select {
		case <-b.arrived:
		case <-time.After(20 * time.Second):
			panic("steps did not reach the barrier within 20 s")
		}
	}
}

func (b *barrier) reached() { b.reachedN(1) }

func (b *barrier) release() { b.once.Do(func() { close(b.open) }) }

// waitDone waits for workflow id to finish and returns its result.
func waitDone(t *testing.T, e durable.System, id string) (string, error) {
	t.Helper()
	h, err := durable.Retrieve[string](context.Background(), e, id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.Result(ctx)
}

func TestResumeRunsOnlyWhatWasNotRecorded(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	var calls counter
	// A workflow cancelled after two recorded steps.
	e2 := v.engine()
	hold := newBarrier()
	blocked := register(t, e2, "blocked", func(ctx context.Context, in string) (string, error) {
		for i := 1; i <= 4; i++ {
			if _, err := durable.Step(ctx, fmt.Sprint("b", i), func(ctx context.Context) (int, error) {
				calls.inc(fmt.Sprint("b", i))
				if i == 3 && calls.get("b3") == 1 {
					hold.wait(ctx) // cancelled here, the first time
					return 0, ctx.Err()
				}
				return i, nil
			}); err != nil {
				return "", err
			}
		}
		return in + " done", nil
	})
	launch(t, e2)
	hb, err := blocked.Start(ctx, "b", durable.WithID("b"))
	is.NoErr(err)
	hold.reached()
	is.NoErr(e2.Cancel(ctx, "b"))
	_, err = hb.Result(ctx)
	is.True(errors.Is(err, durable.ErrWorkflowCancelled))
	is.Equal(len(v.steps("b")), 2) // two steps recorded before the cancel

	is.NoErr(e2.Resume(ctx, "b"))
	is.NoErr(e2.Resume(ctx, "b")) // twice is fine
	got, err := waitDone(t, e2, "b")
	is.NoErr(err)
	is.Equal(got, "b done")
	is.Equal(calls.get("b1"), 1) // recorded steps were not run again
	is.Equal(calls.get("b2"), 1)
	is.Equal(calls.get("b3"), 2) // the interrupted one ran again
	is.Equal(calls.get("b4"), 1)

	err = e2.Resume(ctx, "b")
	is.True(errors.Is(err, durable.ErrCannotResume)) // SUCCESS has nothing left to run
	err = e2.Resume(ctx, "nobody")
	is.True(errors.Is(err, durable.ErrWorkflowNotFound))
}

func TestResumeGoesOnAfterADeterminismErrorIsFixed(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	name := "first"
	var calls counter
	changing := func(ctx context.Context, _ string) (string, error) {
		if _, err := durable.Step(ctx, name, func(ctx context.Context) (int, error) { calls.inc("first"); return 1, nil }); err != nil {
			return "", err
		}
		return durable.Step(ctx, "second", func(ctx context.Context) (string, error) { calls.inc("second"); return "ok", nil })
	}
	e1 := v.crashingAt("second")
	wf1 := register(t, e1, "changing", changing)
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf1.Run(ctx, "", durable.WithID("d")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))

	name = "renamed" // a deploy changed the code
	e2 := v.engine()
	register(t, e2, "changing", changing)
	launch(t, e2)
	_, err = waitDone(t, e2, "d")
	var de *durable.DeterminismError
	is.True(errors.As(err, &de)) // stopped, visibly

	name = "first" // the fix
	is.NoErr(e2.Resume(ctx, "d"))
	got, err := waitDone(t, e2, "d")
	is.NoErr(err)
	is.Equal(got, "ok")
	is.Equal(calls.get("first"), 1) // replayed, not run again
}

func TestForkReusesStepsBeforeItsStart(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	var calls counter
	e := v.engine()
	five := register(t, e, "five", fiveSteps(&calls))
	launch(t, e)
	_, err := five.Run(ctx, "x", durable.WithID("src"))
	is.NoErr(err)

	id, err := e.Fork(ctx, "src", 3, durable.WithForkID("fork"))
	is.NoErr(err)
	is.Equal(id, "fork")
	got, err := waitDone(t, e, "fork")
	is.NoErr(err)
	is.Equal(got, "x+s1+s2+s3+s4+s5")
	is.Equal(calls.get("s1"), 1) // steps 1 and 2 were copied, not run
	is.Equal(calls.get("s2"), 1)
	is.Equal(calls.get("s3"), 2) // 3 on ran again, with today's code
	is.Equal(calls.get("s5"), 2)

	again, err := e.Fork(ctx, "src", 3, durable.WithForkID("fork"))
	is.NoErr(err)
	is.Equal(again, "fork")      // a fork asked for twice is one fork
	is.Equal(calls.get("s3"), 2) // and runs once

	other, err := e.Fork(ctx, "src", 1, durable.WithForkInput("y"))
	is.NoErr(err)
	got, err = waitDone(t, e, other)
	is.NoErr(err)
	is.Equal(got, "y+s1+s2+s3+s4+s5") // a new input, everything run again

	for _, bad := range []int{0, -1, 7} {
		_, err := e.Fork(ctx, "src", bad)
		is.True(errors.Is(err, durable.ErrInvalidFork)) // steps are 1..6 here
	}
	_, err = e.Fork(ctx, "nobody", 1)
	is.True(errors.Is(err, durable.ErrWorkflowNotFound))
}

// family is a parent that starts two children and waits on a hold.
func family(t *testing.T, e *durable.Engine, hold *barrier) *durable.Workflow[string, string] {
	child := register(t, e, "child", func(ctx context.Context, _ string) (string, error) {
		return durable.Step(ctx, "wait", func(ctx context.Context) (string, error) { hold.wait(ctx); return "c", ctx.Err() })
	})
	return register(t, e, "parent", func(ctx context.Context, _ string) (string, error) {
		for range 2 {
			if _, err := child.Start(ctx, ""); err != nil {
				return "", err
			}
		}
		return durable.Step(ctx, "wait", func(ctx context.Context) (string, error) { hold.wait(ctx); return "p", ctx.Err() })
	})
}

func TestCancelAndDeleteReachChildrenUnlessTold(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	hold := newBarrier()
	parent := family(t, e, hold)
	launch(t, e)
	defer hold.release()

	_, err := parent.Start(ctx, "", durable.WithID("alone"))
	is.NoErr(err)
	hold.reachedN(3)
	is.NoErr(e.Cancel(ctx, "alone", durable.WithChildren(false)))
	is.Equal(v.workflow("alone").Status, store.StatusCancelled)
	is.Equal(v.workflow("alone-1").Status, store.StatusPending) // told not to reach the children
	is.NoErr(e.Cancel(ctx, "alone-1"))
	is.NoErr(e.Cancel(ctx, "alone-2"))

	_, err = parent.Start(ctx, "", durable.WithID("tree"))
	is.NoErr(err)
	hold.reachedN(3)
	is.NoErr(e.Cancel(ctx, "tree"))
	for _, id := range []string{"tree", "tree-1", "tree-2"} {
		_, err := waitDone(t, e, id)
		is.True(errors.Is(err, durable.ErrWorkflowCancelled)) // the whole tree
	}

	is.NoErr(e.Delete(ctx, "alone"))
	_, err = e.Steps(ctx, "alone")
	is.True(errors.Is(err, durable.ErrWorkflowNotFound))          // gone
	is.Equal(v.workflow("alone-1").Status, store.StatusCancelled) // its children are not, by default
	is.NoErr(e.Delete(ctx, "tree", durable.WithChildren(true)))
	for _, id := range []string{"tree", "tree-1", "tree-2"} {
		_, err := e.Steps(ctx, id)
		is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // the tree is gone
	}
	is.True(errors.Is(e.Delete(ctx, "tree"), durable.ErrWorkflowNotFound)) // a second time: nothing to delete
}

func TestRetentionDeletesOnlyFinishedWorkflows(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	hold := newBarrier()
	defer hold.release()
	done := register(t, e, "done", func(ctx context.Context, n int) (int, error) {
		if err := durable.SetEvent(ctx, "k", n); err != nil {
			return 0, err
		}
		if err := durable.WriteStream(ctx, "s", n); err != nil {
			return 0, err
		}
		return n, nil
	})
	waiting := register(t, e, "waiting", func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "w", func(ctx context.Context) (int, error) { hold.wait(ctx); return 0, ctx.Err() })
	})
	launch(t, e)
	for i := range 30 {
		_, err := done.Run(ctx, i, durable.WithID(fmt.Sprint("done-", i)))
		is.NoErr(err)
	}
	_, err := waiting.Start(ctx, 0, durable.WithID("active"))
	is.NoErr(err)
	hold.reached()
	_, err = durable.Enqueue[int](ctx, e, "nobody-serves", "done", 1, durable.WithID("queued"))
	is.NoErr(err)

	// Workflows finish while retention runs.
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 30; i < 60; i++ {
			done.Run(ctx, i, durable.WithID(fmt.Sprint("done-", i)))
		}
	})
	n, err := e.CollectGarbage(ctx, durable.Retention{KeepNewest: 5})
	wg.Wait()
	is.NoErr(err)
	is.True(n >= 25) // the old finished ones
	page, err := e.ListWorkflows(ctx, durable.ListQuery{})
	is.NoErr(err)
	left := map[string]bool{}
	for _, w := range page.Workflows {
		left[w.ID] = true
	}
	is.True(left["active"]) // never a PENDING one
	is.True(left["queued"]) // nor an ENQUEUED one
	is.True(!left["done-0"])
	_, err = durable.GetEvent[int](ctx, e, "done-0", "k", 0)
	is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // its events went with it
	_, err = e.CollectGarbage(ctx, durable.Retention{CompletedBefore: time.Now().Add(time.Hour)})
	is.True(errors.Is(err, durable.ErrInvalidRetention)) // a cutoff in the future
	_, err = e.CollectGarbage(ctx, durable.Retention{})
	is.True(errors.Is(err, durable.ErrInvalidRetention)) // selects nothing
}

func TestCancelCreatedBeforeIsAGlobalTimeout(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	register(t, e, "job", func(ctx context.Context, n int) (int, error) { return n, nil })
	launch(t, e)
	for i := range 3 {
		_, err := durable.Enqueue[int](ctx, e, "unserved", "job", i, durable.WithID(fmt.Sprint("old-", i)))
		is.NoErr(err)
	}
	// Times are kept to the millisecond: keep the cutoff clear of both.
	time.Sleep(5 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(5 * time.Millisecond)
	_, err := durable.Enqueue[int](ctx, e, "unserved", "job", 9, durable.WithID("new"))
	is.NoErr(err)
	n, err := e.CancelCreatedBefore(ctx, cutoff)
	is.NoErr(err)
	is.Equal(n, 3)
	is.Equal(v.workflow("old-0").Status, store.StatusCancelled)
	is.Equal(v.workflow("new").Status, store.StatusEnqueued) // created after the cutoff
	_, err = e.CancelCreatedBefore(ctx, time.Now().Add(time.Hour))
	is.True(errors.Is(err, durable.ErrInvalidRetention))
}

func TestPagingListsEachWorkflowOnceWhileMoreAreCreated(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	register(t, e, "job", func(ctx context.Context, n int) (int, error) { return n, nil })
	const writers, each = 8, 1250 // 10,000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := durable.Enqueue[int](ctx, e, "unserved", "job", i, durable.WithID(fmt.Sprintf("w%d-%04d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := map[string]int{}
	var order []string
	q := durable.ListQuery{Limit: 97, Name: "job"}
	writing := true
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("listed %d of %d workflows in two minutes", len(seen), writers*each)
		}
		if writing {
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
				writing = false
			default:
			}
		}
		page, err := e.ListWorkflows(ctx, q)
		is.NoErr(err)
		for _, w := range page.Workflows {
			seen[w.ID]++
			order = append(order, w.ID)
		}
		if page.Next != "" {
			q.After = page.Next
		}
		if !writing && len(order) >= writers*each {
			break
		}
	}
	wg.Wait()
	is.Equal(len(seen), writers*each) // every workflow listed
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s listed %d times", id, n)
		}
	}
	// In creation order: each writer's own workflows come in its order.
	last := map[byte]string{}
	for _, id := range order {
		w := id[1]
		is.True(last[w] < id) // creation order kept
		last[w] = id
	}
}

func TestManagementBadInputChangesNothing(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	register(t, e, "job", func(ctx context.Context, n int) (int, error) { return n, nil })
	launch(t, e)
	_, err := durable.Enqueue[int](ctx, e, "q", "jbo", 1) // a typo
	is.True(errors.Is(err, durable.ErrUnknownWorkflow))
	_, err = e.ListWorkflows(ctx, durable.ListQuery{Statuses: []durable.Status{"DONE"}})
	is.True(errors.Is(err, durable.ErrInvalidQuery))
	for _, op := range []func() error{
		func() error { return e.Cancel(ctx, "nobody") },
		func() error { return e.Resume(ctx, "nobody") },
		func() error { return e.Delete(ctx, "nobody") },
		func() error { _, err := e.Steps(ctx, "nobody"); return err },
		func() error { _, err := e.Fork(ctx, "nobody", 1); return err },
	} {
		is.True(errors.Is(op(), durable.ErrWorkflowNotFound)) // a missing ID is a typed error
	}
	page, err := e.ListWorkflows(ctx, durable.ListQuery{})
	is.NoErr(err)
	is.Equal(len(page.Workflows), 0) // and nothing was recorded
}

func TestQueueDepthsAndListFilters(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	hold := newBarrier()
	defer hold.release()
	job := register(t, e, "job", func(ctx context.Context, n int) (int, error) {
		return durable.Step(ctx, "w", func(ctx context.Context) (int, error) { hold.wait(ctx); return n, ctx.Err() })
	})
	registerQueue(t, e, queue.Queue{Name: "q", GlobalConcurrency: 1})
	launch(t, e)
	for i := range 3 {
		_, err := job.Start(ctx, i, durable.WithQueue("q"), durable.WithID(fmt.Sprint("j", i)))
		is.NoErr(err)
	}
	hold.reached()
	ds, err := e.QueueDepths(ctx)
	is.NoErr(err)
	is.Equal(ds, []durable.QueueDepth{{Queue: "q", Enqueued: 2, Pending: 1}})

	page, err := e.ListWorkflows(ctx, durable.ListQuery{Statuses: []durable.Status{durable.StatusEnqueued}, NewestFirst: true, LoadInput: true})
	is.NoErr(err)
	is.Equal(len(page.Workflows), 2)
	is.Equal(page.Workflows[0].Input, float64(2)) // newest first, input decoded on request
	page, err = e.ListWorkflows(ctx, durable.ListQuery{Queue: "q", Limit: 2})
	is.NoErr(err)
	is.Equal(len(page.Workflows), 2)
	is.True(page.Next != "")               // more to come
	is.Equal(page.Workflows[0].Input, nil) // payloads only on request
	is.Equal(page.Workflows[0].ID, "j0")   // oldest first by default
	steps, err := e.Steps(ctx, page.Workflows[0].ID)
	is.NoErr(err)
	is.Equal(len(steps), 0)
}
