package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// enqueueParams returns the parameters of a workflow enqueued on queue q at
// at(n).
func enqueueParams(id, q string, n int) store.EnqueueParams {
	return store.EnqueueParams{WorkflowCreateParams: params(id, n), Queue: q}
}

// enqueue enqueues a workflow that must not exist yet.
func enqueue(t *testing.T, s store.Store, p store.EnqueueParams) store.Workflow {
	is := is.New(t)
	wf, created, err := s.Enqueue(t.Context(), p)
	is.NoErr(err)    // enqueue
	is.True(created) // the workflow is new
	return wf
}

// claimParams claims up to max rows of queue q for exec-a at at(n).
func claimParams(q string, max, n int) store.ClaimParams {
	return store.ClaimParams{Queue: q, Names: []string{"main.Transfer"}, ExecutorID: "exec-a",
		ApplicationVersion: "v1", Max: max, Now: at(n)}
}

func claim(t *testing.T, s store.Store, p store.ClaimParams) []string {
	is := is.New(t)
	wfs, err := s.Claim(t.Context(), p)
	is.NoErr(err) // claim
	return ids(wfs)
}

func testQueue(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("enqueue is idempotent by ID", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := enqueueParams("wf-1", "q", 0)
		p.Priority, p.PartitionKey, p.Timeout, p.Delay = 3, "k", time.Second, 5*time.Second
		wf := enqueue(t, s, p)
		is.Equal(wf.Status, store.StatusEnqueued) // enqueued, not running
		is.Equal(wf.RecoveryAttempts, 0)          // not run yet
		is.Equal(wf.QueueName, "q")
		is.Equal(wf.Priority, 3)
		is.Equal(wf.PartitionKey, "k")
		is.Equal(wf.Timeout, time.Second)
		is.True(wf.Deadline.IsZero()) // the deadline starts at the claim
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)
		is.Equal(norm(got), norm(wf)) // enqueue returns the row as stored

		p.Input = []byte(`"other"`)
		again, created, err := s.Enqueue(t.Context(), p)
		is.NoErr(err)                   // a second enqueue is not an error
		is.True(!created)               // and creates nothing
		is.Equal(norm(again), norm(wf)) // it returns the first row
	})

	t.Run("deduplication", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := enqueueParams("wf-1", "q", 0)
		p.DeduplicationID = "d"
		enqueue(t, s, p)

		_, _, err := s.Enqueue(t.Context(), store.EnqueueParams{WorkflowCreateParams: params("wf-2", 1), Queue: "q", DeduplicationID: "d"})
		is.True(errors.Is(err, store.ErrDeduplicated)) // the ID is held
		var de *store.DeduplicatedError
		is.True(errors.As(err, &de))  // a typed error
		is.Equal(de.HolderID, "wf-1") // naming the holder
		_, err = s.GetWorkflow(t.Context(), "wf-2")
		is.True(errors.Is(err, store.ErrNotFound)) // nothing inserted

		_, _, err = s.Enqueue(t.Context(), p)
		is.NoErr(err) // the holder itself may enqueue again
		other := enqueueParams("wf-3", "other-queue", 2)
		other.DeduplicationID = "d"
		enqueue(t, s, other) // the scope is one queue

		is.Equal(claim(t, s, claimParams("q", 1, 3)), []string{"wf-1"}) // still held while PENDING
		_, _, err = s.Enqueue(t.Context(), store.EnqueueParams{WorkflowCreateParams: params("wf-2", 4), Queue: "q", DeduplicationID: "d"})
		is.True(errors.Is(err, store.ErrDeduplicated)) // held while running
		finish(t, s, "wf-1", 5)
		p2 := enqueueParams("wf-2", "q", 6)
		p2.DeduplicationID = "d"
		enqueue(t, s, p2) // released once the holder finished
		_, err = s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "wf-2", Now: at(7)})
		is.NoErr(err) // cancel
		p4 := enqueueParams("wf-4", "q", 8)
		p4.DeduplicationID = "d"
		enqueue(t, s, p4) // and once the holder is cancelled
	})

	t.Run("claims by priority, then oldest first", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for i, prio := range []int{0, 1, 2, 3, 4, 5, 0, 0} {
			p := enqueueParams(fmt.Sprintf("wf-%d", i), "q", 0) // same created_at: insertion order breaks ties
			p.Priority = prio
			enqueue(t, s, p)
		}
		got := claim(t, s, claimParams("q", 3, 1))
		is.Equal(got, []string{"wf-0", "wf-6", "wf-7"}) // unset priority first, FIFO among equals
		got = claim(t, s, claimParams("q", 10, 1))
		is.Equal(got, []string{"wf-1", "wf-2", "wf-3", "wf-4", "wf-5"}) // then by priority
		wf, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)
		is.Equal(wf.Status, store.StatusPending)               // claimed rows run
		is.Equal(wf.ExecutorID, "exec-a")                      // for the claimer
		is.Equal(wf.RecoveryAttempts, 1)                       // a first run
		is.Equal(wf.StartedAt.UTC(), at(1).UTC())              // at the claim
		is.Equal(len(claim(t, s, claimParams("q", 10, 2))), 0) // nothing is claimed twice
	})

	t.Run("claims only names and versions it runs, and only due rows", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		enqueue(t, s, enqueueParams("mine", "q", 0))
		other := enqueueParams("other-name", "q", 0)
		other.Name = "main.Other"
		enqueue(t, s, other)
		old := enqueueParams("old-version", "q", 0)
		old.ApplicationVersion = "v0"
		enqueue(t, s, old)
		unversioned := enqueueParams("unversioned", "q", 0)
		unversioned.ApplicationVersion = ""
		enqueue(t, s, unversioned)
		later := enqueueParams("later", "q", 0)
		later.Delay = 10 * time.Second
		enqueue(t, s, later)

		is.Equal(claim(t, s, claimParams("q", 10, 1)), []string{"mine", "unversioned"}) // its names and versions, due now
		wf, err := s.GetWorkflow(t.Context(), "unversioned")
		is.NoErr(err)
		is.Equal(wf.ApplicationVersion, "v1")                              // stamped with the claimer's version
		is.Equal(len(claim(t, s, claimParams("q", 10, 9))), 0)             // not before it is due
		is.Equal(claim(t, s, claimParams("q", 10, 10)), []string{"later"}) // once due
	})

	t.Run("global concurrency across claimers", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for i := range 6 {
			enqueue(t, s, enqueueParams(fmt.Sprintf("wf-%d", i), "q", i))
		}
		a := claimParams("q", 10, 10)
		a.GlobalConcurrency = 3
		b := a
		b.ExecutorID = "exec-b"
		is.Equal(len(claim(t, s, a)), 3) // up to the limit
		is.Equal(len(claim(t, s, b)), 0) // another executor finds no room
		finish(t, s, "wf-1", 11)
		is.Equal(claim(t, s, b), []string{"wf-3"}) // a finished workflow frees one slot
	})

	t.Run("rate limit", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for i := range 6 {
			enqueue(t, s, enqueueParams(fmt.Sprintf("wf-%d", i), "q", 0))
		}
		p := claimParams("q", 10, 10)
		p.RateLimit, p.RatePeriod = 2, 5*time.Second
		is.Equal(len(claim(t, s, p)), 2) // L starts
		finish(t, s, "wf-0", 11)
		p.Now = at(14)
		is.Equal(len(claim(t, s, p)), 0) // none more within the period, finished or not
		p.Now = at(15)
		is.Equal(claim(t, s, p), []string{"wf-2", "wf-3"}) // the next period
	})

	t.Run("partitions", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for i, key := range []string{"a", "a", "a", "b", "b", ""} {
			p := enqueueParams(fmt.Sprintf("wf-%d", i), "q", i)
			p.PartitionKey = key
			enqueue(t, s, p)
		}
		p := claimParams("q", 10, 10)
		p.PartitionConcurrency = 2
		is.Equal(claim(t, s, p), []string{"wf-0", "wf-1", "wf-3", "wf-4"}) // two per key; no key, no claim
		is.Equal(len(claim(t, s, p)), 0)                                   // every partition is full
		finish(t, s, "wf-0", 11)
		is.Equal(claim(t, s, p), []string{"wf-2"}) // room in partition a
	})

	t.Run("timeout starts at the claim", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := enqueueParams("wf-1", "q", 0)
		p.Timeout = 3 * time.Second
		enqueue(t, s, p)
		wfs, err := s.Claim(t.Context(), claimParams("q", 1, 10))
		is.NoErr(err)
		is.Equal(len(wfs), 1)
		is.Equal(wfs[0].Deadline.UTC(), at(13).UTC()) // claim time + timeout
	})

	t.Run("requeue for recovery", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		enqueue(t, s, enqueueParams("wf-1", "q", 0))
		create(t, s, params("direct", 0))
		req := store.RequeueParams{WorkflowID: "wf-1", MaxAttempts: 1, Now: at(1)}
		wf, err := s.Requeue(t.Context(), req)
		is.NoErr(err)
		is.Equal(wf.Status, store.StatusEnqueued) // an ENQUEUED row is unchanged
		for attempt := 1; attempt <= 2; attempt++ {
			is.Equal(claim(t, s, claimParams("q", 1, 2)), []string{"wf-1"}) // claimed again
			wf, err = s.Requeue(t.Context(), req)
			is.NoErr(err)
			if attempt == 1 {
				is.Equal(wf.Status, store.StatusEnqueued) // back in its queue
				is.Equal(wf.RecoveryAttempts, 1)          // counted at the next claim
			}
		}
		is.Equal(wf.Status, store.StatusMaxRecoveryAttemptsExceeded) // past MaxAttempts recoveries
		is.Equal(wf.RecoveryAttempts, 2)
		d, err := s.Requeue(t.Context(), store.RequeueParams{WorkflowID: "direct", MaxAttempts: -1})
		is.NoErr(err)
		is.Equal(d.Status, store.StatusPending) // a workflow without a queue is unchanged
		_, err = s.Requeue(t.Context(), store.RequeueParams{WorkflowID: "missing"})
		is.True(errors.Is(err, store.ErrNotFound)) // a missing workflow
	})

	t.Run("requeue only from its owner, which it clears", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		ctx := t.Context()
		register(t, s, "inst-a")
		register(t, s, "inst-b")
		enqueue(t, s, enqueueParams("wf-1", "q", 0))
		claimAs := func(owner string, n int) store.Workflow {
			p := claimParams("q", 1, n)
			p.Owner = owner
			wfs, err := s.Claim(ctx, p)
			is.NoErr(err)         // claim
			is.Equal(len(wfs), 1) // the requeued workflow is claimed
			return wfs[0]
		}
		claimed := claimAs("inst-a", 1)
		is.Equal(claimed.Owner, "inst-a") // owned by its claimer

		for _, from := range []string{"inst-b", ""} {
			wf, err := s.Requeue(ctx, store.RequeueParams{WorkflowID: "wf-1", From: from, MaxAttempts: 1, Now: at(2)})
			is.NoErr(err)                            // a lost compare is no error
			is.Equal(norm(wf), norm(claimed))        // the row is returned unchanged
			is.Equal(wf.Status, store.StatusPending) // still running
			is.Equal(wf.Owner, "inst-a")             // for its owner
		}
		wf, err := s.Requeue(ctx, store.RequeueParams{WorkflowID: "wf-1", From: "inst-a", MaxAttempts: 1, Now: at(3)})
		is.NoErr(err)                             // requeue
		is.Equal(wf.Status, store.StatusEnqueued) // back in its queue
		is.Equal(wf.Owner, "")                    // owned by nobody
		got, err := s.GetWorkflow(ctx, "wf-1")
		is.NoErr(err)                 // get
		is.Equal(norm(got), norm(wf)) // requeue returns the row as stored

		claimed = claimAs("inst-b", 4)
		is.Equal(claimed.Owner, "inst-b")     // the next claimer owns it
		is.Equal(claimed.RecoveryAttempts, 2) // a second run
		wf, err = s.Requeue(ctx, store.RequeueParams{WorkflowID: "wf-1", From: "inst-a", MaxAttempts: 1, Now: at(5)})
		is.NoErr(err)                     // requeue
		is.Equal(norm(wf), norm(claimed)) // its former owner's requeue changes nothing
		wf, err = s.Requeue(ctx, store.RequeueParams{WorkflowID: "wf-1", From: "inst-b", MaxAttempts: 1, Now: at(6)})
		is.NoErr(err)                                                // requeue
		is.Equal(wf.Status, store.StatusMaxRecoveryAttemptsExceeded) // 2 attempts > MaxAttempts
		is.Equal(wf.CompletedAt.UTC(), at(6).UTC())                  // completed when stopped
	})

	t.Run("requeue with negative MaxAttempts is unlimited", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-a")
		enqueue(t, s, enqueueParams("wf-1", "q", 0))
		var wf store.Workflow
		for i := range 5 {
			p := claimParams("q", 1, 2*i+1)
			p.Owner = "inst-a"
			is.Equal(claim(t, s, p), []string{"wf-1"}) // claimed again
			var err error
			wf, err = s.Requeue(t.Context(), store.RequeueParams{WorkflowID: "wf-1", From: "inst-a", MaxAttempts: -1, Now: at(2*i + 2)})
			is.NoErr(err)                             // requeue
			is.Equal(wf.Status, store.StatusEnqueued) // never stopped
		}
		is.Equal(wf.RecoveryAttempts, 5) // every run counted
	})

	t.Run("concurrent claimers take each row once", func(t *testing.T) {
		const rows, claimers = 200, 8
		is := is.New(t)
		s := newStore(t)
		for i := range rows {
			enqueue(t, s, enqueueParams(fmt.Sprintf("wf-%03d", i), "q", 0))
		}
		var mu sync.Mutex
		var got []string
		errs := make([]error, claimers)
		race(claimers, func(i int) {
			p := claimParams("q", 7, 1)
			p.ExecutorID = fmt.Sprintf("exec-%d", i)
			for {
				wfs, err := s.Claim(t.Context(), p)
				if err != nil {
					errs[i] = err
					return
				}
				if len(wfs) == 0 {
					return
				}
				mu.Lock()
				got = append(got, ids(wfs)...)
				mu.Unlock()
			}
		})
		for _, err := range errs {
			is.NoErr(err) // every claim succeeds
		}
		slices.Sort(got)
		is.Equal(len(got), rows)                 // every row is claimed
		is.Equal(len(slices.Compact(got)), rows) // none twice
	})
}
