package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// collect calls CollectGarbage until it deletes fewer than p.Batch, and
// returns what each call deleted.
func collect(t *testing.T, s store.Store, p store.GCParams) []int {
	is := is.New(t)
	var out []int
	for {
		n, err := s.CollectGarbage(t.Context(), p)
		is.NoErr(err)         // collect garbage
		is.True(n <= p.Batch) // at most a batch
		out = append(out, n)
		if n < p.Batch {
			return out
		}
	}
}

// remaining lists the IDs of every workflow, in insertion order.
func remaining(t *testing.T, s store.Store) []string {
	is := is.New(t)
	wfs, err := s.ListWorkflows(t.Context(), store.ListParams{NoPayloads: true})
	is.NoErr(err) // list
	return ids(wfs)
}

// gcSeed creates f-0 … f-9, finished (completed at at(100+i)) in reverse
// order of creation, each after an active workflow a-i: PENDING for even
// i, ENQUEUED for odd, with a step each.
func gcSeed(t *testing.T, s store.Store) {
	for i := range 10 {
		if i%2 == 0 {
			create(t, s, params(fmt.Sprintf("a-%d", i), i))
		} else {
			enqueue(t, s, enqueueParams(fmt.Sprintf("a-%d", i), "mail", i))
		}
		id := fmt.Sprintf("f-%d", i)
		create(t, s, params(id, i))
		record(t, s, step(id, 1, "s", `"x"`))
	}
	for i := 9; i >= 0; i-- {
		finish(t, s, fmt.Sprintf("f-%d", i), 100+(9-i))
	}
}

// activeIDs are gcSeed's active workflows.
var activeIDs = []string{"a-0", "a-1", "a-2", "a-3", "a-4", "a-5", "a-6", "a-7", "a-8", "a-9"}

func testCollectGarbage(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("completed before, in batches, oldest first", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		gcSeed(t, s)
		// Completed before at(104): f-9 … f-6, the four newest created.
		is.Equal(collect(t, s, store.GCParams{CompletedBefore: at(104), Batch: 3}), []int{3, 1}) // in batches
		is.Equal(remaining(t, s), []string{"a-0", "f-0", "a-1", "f-1", "a-2", "f-2", "a-3", "f-3", "a-4", "f-4",
			"a-5", "f-5", "a-6", "a-7", "a-8", "a-9"}) // only those, never an active one
		for _, id := range []string{"f-6", "f-9"} {
			is.True(gone(t, s, id)) // with their steps
		}

		n, err := s.CollectGarbage(t.Context(), store.GCParams{CompletedBefore: at(1000), Batch: 2})
		is.NoErr(err)                                                       // collect one batch
		is.Equal(n, 2)                                                      // a whole batch
		is.Equal(remaining(t, s)[:4], []string{"a-0", "a-1", "a-2", "f-2"}) // the oldest went first
	})

	t.Run("keep the newest", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		gcSeed(t, s)
		is.Equal(collect(t, s, store.GCParams{KeepNewest: 3, Batch: 4}), []int{4, 3}) // seven of ten finished
		want := append(slices.Clone(activeIDs[:8]), "f-7", "a-8", "f-8", "a-9", "f-9")
		is.Equal(remaining(t, s), want)                                            // the three most recently created finished ones stay, and every active one
		is.Equal(collect(t, s, store.GCParams{KeepNewest: 3, Batch: 4}), []int{0}) // and stay
	})

	t.Run("keep the newest or completed before", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		gcSeed(t, s)
		// The newest eight (f-2 … f-9) stay by count; of them f-9, which
		// completed first, goes by time.
		is.Equal(collect(t, s, store.GCParams{KeepNewest: 8, CompletedBefore: at(101), Batch: 10}), []int{3})
		want := []string{"a-0", "a-1", "a-2", "f-2", "a-3", "f-3", "a-4", "f-4", "a-5", "f-5", "a-6", "f-6",
			"a-7", "f-7", "a-8", "f-8", "a-9"}
		is.Equal(remaining(t, s), want) // f-0 and f-1 by count, f-9 by time
	})

	t.Run("nothing selected, nothing deleted", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		gcSeed(t, s)
		is.Equal(collect(t, s, store.GCParams{Batch: 5}), []int{0})                           // no selection
		is.Equal(collect(t, s, store.GCParams{CompletedBefore: at(100), Batch: 5}), []int{0}) // none completed before
		is.Equal(collect(t, s, store.GCParams{KeepNewest: 10, Batch: 5}), []int{0})           // none beyond the newest ten
		is.Equal(len(remaining(t, s)), 20)                                                    // all stay
		_, err := s.CollectGarbage(t.Context(), store.GCParams{KeepNewest: 1})
		is.True(err != nil) // Batch is required
	})

	t.Run("never an active workflow, racing outcomes and resumes", func(t *testing.T) {
		testGCRace(t, newStore(t))
	})
}

// testGCRace collects garbage in small batches while one goroutine
// finishes PENDING workflows and another resumes finished ones: a
// workflow that is active when the delete reaches it must stay.
func testGCRace(t *testing.T, s store.Store) {
	const n = 150
	is := is.New(t)
	ctx := t.Context()
	for i := range n {
		create(t, s, params(fmt.Sprintf("p-%03d", i), i))
		id := fmt.Sprintf("e-%03d", i)
		create(t, s, params(id, i))
		ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: id, Status: store.StatusError, Error: []byte(`"x"`), Now: at(i)})
		is.NoErr(err) // fail
		is.True(ok)   // failed
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	resumed := make([]bool, n)
	wg.Go(func() {
		for i := range n {
			if _, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: fmt.Sprintf("p-%03d", i),
				Status: store.StatusSuccess, Output: []byte(`"ok"`), Now: at(1000)}); err != nil {
				errs[0] = err
				return
			}
		}
	})
	wg.Go(func() {
		for i := range n {
			wf, err := s.ResumeWorkflow(ctx, store.ResumeParams{WorkflowID: fmt.Sprintf("e-%03d", i), Now: at(1000)})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				errs[1] = err
				return
			}
			resumed[i] = err == nil && wf.Status == store.StatusPending
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	p := store.GCParams{CompletedBefore: at(2000), Batch: 7}
	var gcErr error
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if _, err := s.CollectGarbage(ctx, p); err != nil {
			gcErr = err
			break
		}
	}
	is.NoErr(gcErr) // every collection succeeds
	for _, err := range errs {
		is.NoErr(err) // every outcome and resume succeeds
	}
	collect(t, s, p)
	left := map[string]bool{}
	for _, id := range remaining(t, s) {
		left[id] = true
	}
	for i := range n {
		id := fmt.Sprintf("e-%03d", i)
		is.Equal(left[id], resumed[i])           // a resumed workflow stays; the others went
		is.True(!left[fmt.Sprintf("p-%03d", i)]) // every finished one went
	}
}
