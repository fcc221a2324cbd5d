package durable_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// intervals records when workflows ran, as a workflow sees it.
type intervals struct {
	mu    sync.Mutex
	spans []span
	order []string // workflow IDs in the order they started
}

type span struct {
	key        string
	start, end time.Time
}

// worker returns a workflow that records its run, working for d.
func (iv *intervals) worker(d time.Duration) func(context.Context, string) (string, error) {
	return func(ctx context.Context, key string) (string, error) {
		start := time.Now()
		iv.mu.Lock()
		iv.order = append(iv.order, durable.WorkflowID(ctx))
		iv.mu.Unlock()
		if _, err := durable.Step(ctx, "work", func(ctx context.Context) (int, error) {
			time.Sleep(d) // the work: its length is what overlaps
			return 1, nil
		}); err != nil {
			return "", err
		}
		iv.mu.Lock()
		iv.spans = append(iv.spans, span{key: key, start: start, end: time.Now()})
		iv.mu.Unlock()
		return key, nil
	}
}

// maxOverlap returns the most spans of key (all, if "") running at once.
func (iv *intervals) maxOverlap(key string) int {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range iv.spans {
		if key == "" || s.key == key {
			edges = append(edges, edge{s.start, 1}, edge{s.end, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta // an end before a start at the same instant
		}
		return edges[i].at.Before(edges[j].at)
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

func registerQueue(t *testing.T, e *durable.Engine, q queue.Queue) {
	t.Helper()
	if err := durable.RegisterQueue(e, q); err != nil {
		t.Fatalf("register queue %s: %v", q.Name, err)
	}
}

// enqueueAll enqueues n workflows "<prefix>-<i>" with input key(i) and
// waits for all of them.
func enqueueAll(t *testing.T, wf *durable.Workflow[string, string], n int, prefix string, key func(int) string, opts ...durable.StartOption) {
	t.Helper()
	is := is.New(t)
	ctx := t.Context()
	hs := make([]*durable.Handle[string], n)
	for i := range n {
		h, err := wf.Start(ctx, key(i), append(opts, durable.WithID(fmt.Sprintf("%s-%03d", prefix, i)))...)
		is.NoErr(err) // enqueue
		hs[i] = h
	}
	for i, h := range hs {
		got, err := h.Result(ctx)
		is.NoErr(err)         // the workflow succeeds
		is.Equal(got, key(i)) // with its own result
	}
}

func TestQueueConcurrencyLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		q    queue.Queue
	}{
		{"global", queue.Queue{Name: "q", GlobalConcurrency: 5}},
		{"worker", queue.Queue{Name: "q", WorkerConcurrency: 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			v := setup(t)
			e := v.engine()
			var iv intervals
			wf := register(t, e, "work", iv.worker(2*time.Millisecond))
			registerQueue(t, e, c.q)
			launch(t, e)
			enqueueAll(t, wf, 200, "w", func(int) string { return "k" }, durable.WithQueue("q"))
			is.Equal(len(iv.spans), 200) // every workflow ran once
			most := iv.maxOverlap("")
			t.Logf("at most %d of 200 ran at once", most)
			is.True(most <= 5) // never more than the limit at once
			is.True(most >= 2) // but the queue did run them concurrently
		})
	}
}

func TestQueueRateLimit(t *testing.T) {
	const limit, period, n = 3, 150 * time.Millisecond, 10
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	var iv intervals
	wf := register(t, e, "work", iv.worker(0))
	registerQueue(t, e, queue.Queue{Name: "q", RateLimit: &queue.RateLimit{Limit: limit, Period: period}, PollInterval: 20 * time.Millisecond})
	launch(t, e)
	enqueueAll(t, wf, n, "w", func(int) string { return "k" }, durable.WithQueue("q"))

	var starts []time.Time
	for i := range n {
		starts = append(starts, v.workflow(fmt.Sprintf("w-%03d", i)).StartedAt)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for i := 0; i+limit < len(starts); i++ {
		gap := starts[i+limit].Sub(starts[i])
		is.True(gap >= period) // no window of the period holds more than the limit
	}
	is.True(starts[n-1].Sub(starts[0]) >= period*(n-1)/limit) // so the starts spread over the periods
}

// gate is a workflow that blocks until the test opens it.
type gate struct {
	started chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{started: make(chan struct{}, 100), open: make(chan struct{})} }

func (g *gate) workflow(ctx context.Context, in string) (string, error) {
	g.started <- struct{}{}
	select {
	case <-g.open:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return in, nil
}

func TestQueuePriorityAndFIFO(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	g := newGate()
	blocker := register(t, e, "blocker", g.workflow)
	var iv intervals
	wf := register(t, e, "work", iv.worker(0))
	registerQueue(t, e, queue.Queue{Name: "q", GlobalConcurrency: 1})
	launch(t, e)
	ctx := t.Context()

	hb, err := blocker.Start(ctx, "", durable.WithQueue("q"))
	is.NoErr(err)
	<-g.started // the queue's one slot is taken
	// DBOS's order: no priority runs first, then by priority, FIFO among equals.
	prios := []int{0, 1, 2, 3, 4, 5, 0, 0, 2}
	var hs []*durable.Handle[string]
	for i, p := range prios {
		opts := []durable.StartOption{durable.WithQueue("q"), durable.WithID(fmt.Sprintf("p%d-%d", p, i))}
		if p > 0 {
			opts = append(opts, durable.WithPriority(p))
		}
		h, err := wf.Start(ctx, "", opts...)
		is.NoErr(err)
		hs = append(hs, h)
	}
	close(g.open)
	_, err = hb.Result(ctx)
	is.NoErr(err)
	for _, h := range hs {
		_, err := h.Result(ctx)
		is.NoErr(err)
	}
	is.Equal(iv.order, []string{"p0-0", "p0-6", "p0-7", "p1-1", "p2-2", "p2-8", "p3-3", "p4-4", "p5-5"}) // priority, then FIFO
}

func TestQueueDeduplication(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	g := newGate()
	wf := register(t, e, "gated", g.workflow)
	registerQueue(t, e, queue.Queue{Name: "q"})
	launch(t, e)
	ctx := t.Context()

	first, err := wf.Start(ctx, "first", durable.WithQueue("q"), durable.WithDeduplicationID("d"), durable.WithID("first"))
	is.NoErr(err)
	_, err = wf.Start(ctx, "second", durable.WithQueue("q"), durable.WithDeduplicationID("d"), durable.WithID("second"))
	is.True(errors.Is(err, durable.ErrDeduplicated)) // the ID is held
	var de *durable.DeduplicatedError
	is.True(errors.As(err, &de))      // a typed error
	is.Equal(de.ExistingID, "first")  // naming the holder
	is.Equal(de.WorkflowID, "second") // and the refused workflow
	_, err = e.Store().GetWorkflow(ctx, "second")
	is.True(errors.Is(err, store.ErrNotFound)) // which was not recorded

	h, err := wf.Start(ctx, "third", durable.WithQueue("q"), durable.WithDeduplicationID("d"),
		durable.WithDeduplicationPolicy(durable.ReturnExisting))
	is.NoErr(err)             // ReturnExisting is not an error
	is.Equal(h.ID(), "first") // it returns the holder
	other, err := wf.Start(ctx, "other", durable.WithQueue("q"), durable.WithDeduplicationID("other"))
	is.NoErr(err) // another deduplication ID is free

	close(g.open)
	got, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "first") // the holder's result, not the discarded input
	_, err = first.Result(ctx)
	is.NoErr(err)
	_, err = other.Result(ctx)
	is.NoErr(err)
	again, err := wf.Start(ctx, "again", durable.WithQueue("q"), durable.WithDeduplicationID("d"))
	is.NoErr(err) // the ID is free once its holder finished
	got, err = again.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "again")
}

func TestQueuePartitions(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	var iv intervals
	wf := register(t, e, "work", iv.worker(3*time.Millisecond))
	registerQueue(t, e, queue.Queue{Name: "q", PartitionConcurrency: 2})
	launch(t, e)
	ctx := t.Context()

	_, err := wf.Start(ctx, "x", durable.WithQueue("q"))
	is.True(errors.Is(err, durable.ErrInvalidEnqueue)) // a partitioned queue needs a key
	keys := []string{"a", "b", "c"}
	key := func(i int) string { return keys[i%len(keys)] }
	var hs []*durable.Handle[string]
	for i := range 60 {
		h, err := wf.Start(ctx, key(i), durable.WithQueue("q"), durable.WithPartitionKey(key(i)))
		is.NoErr(err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		_, err := h.Result(ctx)
		is.NoErr(err)
	}
	for _, k := range keys {
		is.True(iv.maxOverlap(k) <= 2) // the limit holds per key
	}
	t.Logf("at most %d ran at once across keys", iv.maxOverlap(""))
	is.True(iv.maxOverlap("") > 2) // keys are limited apart, not together
}

func TestQueueDelayAndTimeoutStartAtDequeue(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	g := newGate()
	blocker := register(t, e, "blocker", g.workflow)
	var iv intervals
	wf := register(t, e, "work", iv.worker(0))
	registerQueue(t, e, queue.Queue{Name: "q", GlobalConcurrency: 1})
	launch(t, e)
	ctx := t.Context()

	const delay = 80 * time.Millisecond
	delayed, err := wf.Start(ctx, "delayed", durable.WithQueue("q"), durable.WithDelay(delay))
	is.NoErr(err)
	_, err = delayed.Result(ctx)
	is.NoErr(err)
	row := v.workflow(delayed.ID())
	is.True(row.StartedAt.Sub(row.CreatedAt) >= delay) // not started before its delay

	const timeout = 50 * time.Millisecond
	hb, err := blocker.Start(ctx, "", durable.WithQueue("q"))
	is.NoErr(err)
	<-g.started
	h, err := wf.Start(ctx, "late", durable.WithQueue("q"), durable.WithTimeout(timeout))
	is.NoErr(err)
	time.Sleep(2 * timeout) // queued for longer than its timeout
	close(g.open)
	_, err = hb.Result(ctx)
	is.NoErr(err)
	got, err := h.Result(ctx)
	is.NoErr(err)         // the timeout did not run while it waited
	is.Equal(got, "late") // it ran
	row = v.workflow(h.ID())
	is.Equal(row.Deadline, row.StartedAt.Add(timeout)) // its deadline counts from the dequeue
}

func TestQueueOptionErrors(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	wf := register(t, e, "echo", func(_ context.Context, s string) (string, error) { return s, nil })
	is.True(errors.Is(durable.RegisterQueue(e, queue.Queue{Name: "q", GlobalConcurrency: 1, WorkerConcurrency: 2}), queue.ErrInvalidQueue)) // worker > global
	registerQueue(t, e, queue.Queue{Name: "q"})
	registerQueue(t, e, queue.Queue{Name: "parts", PartitionConcurrency: 1})
	is.True(errors.Is(durable.RegisterQueue(e, queue.Queue{Name: "q"}), durable.ErrDuplicateQueue)) // a name once
	launch(t, e)
	is.True(errors.Is(durable.RegisterQueue(e, queue.Queue{Name: "late"}), durable.ErrAlreadyLaunched)) // before Launch only
	ctx := t.Context()

	for _, c := range []struct {
		opt  durable.StartOption
		want error
	}{
		{durable.WithPriority(1), durable.ErrNoQueue},
		{durable.WithDelay(time.Second), durable.ErrNoQueue},
		{durable.WithDeduplicationID("d"), durable.ErrNoQueue},
		{durable.WithPartitionKey("k"), durable.ErrNoQueue},
	} {
		_, err := wf.Start(ctx, "x", c.opt)
		is.True(errors.Is(err, c.want)) // a queue option needs WithQueue
	}
	for _, opts := range [][]durable.StartOption{
		{durable.WithPriority(0)}, {durable.WithPriority(1 << 31)}, {durable.WithDelay(-time.Second)},
		{durable.WithPartitionKey("k")}, // q is not partitioned
	} {
		_, err := wf.Start(ctx, "x", append(opts, durable.WithQueue("q"))...)
		is.True(errors.Is(err, durable.ErrInvalidEnqueue)) // options that do not fit
	}
	_, err := wf.Start(ctx, "x", durable.WithQueue("parts"), durable.WithPartitionKey("k"), durable.WithDeduplicationID("d"))
	is.True(errors.Is(err, durable.ErrInvalidEnqueue)) // DBOS refuses a partition key with a deduplication ID
	wfs, err := e.Store().ListWorkflows(ctx, store.ListParams{})
	is.NoErr(err)
	is.Equal(len(wfs), 0) // nothing was recorded

	h, err := wf.Start(ctx, "elsewhere", durable.WithQueue("served-elsewhere"))
	is.NoErr(err)                                             // a queue this process does not serve is fine
	is.Equal(v.workflow(h.ID()).Status, store.StatusEnqueued) // the row waits for a process that serves it
}
