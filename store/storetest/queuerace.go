package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// A queue's limits are counted across every process that claims from it:
// these cases race claims made through several stores on one database,
// then count from the database what they took.

// claimer names the executor that claims through store i.
func claimer(i int) string { return fmt.Sprintf("exec-%d", i) }

// raceQueue enqueues n workflows on queue q through s, the i-th in
// partition key(i) if key is not nil.
func raceQueue(t *testing.T, s store.Store, q string, n int, key func(i int) string) {
	for i := range n {
		p := enqueueParams(fmt.Sprintf("%s-wf-%03d", q, i), q, i)
		if key != nil {
			p.PartitionKey = key(i)
		}
		enqueue(t, s, p)
	}
}

// raceClaim returns the parameters of a claim of up to 3 rows of queue
// q. Now is zero: each store claims by its own clock, as in production.
func raceClaim(q string) store.ClaimParams {
	return store.ClaimParams{Queue: q, Names: []string{"main.Transfer"}, ApplicationVersion: "v1", Max: 3}
}

// claimRace has every store claim with p at once, through store i as
// claimer(i), and returns what each took.
func claimRace(t *testing.T, stores []store.Store, p store.ClaimParams) [][]store.Workflow {
	is := is.New(t)
	took := make([][]store.Workflow, len(stores))
	errs := make([]error, len(stores))
	race(len(stores), func(i int) {
		q := p
		q.ExecutorID = claimer(i)
		took[i], errs[i] = stores[i].Claim(t.Context(), q)
	})
	for _, err := range errs {
		is.NoErr(err) // every claim succeeds
	}
	return took
}

// claimedOnce checks from the database, through s, that every row the
// claimers took is PENDING for the claimer it was returned to, claimed
// once, and that no row was returned to two of them. It returns how many
// rows they took.
func claimedOnce(t *testing.T, s store.Store, took [][]store.Workflow) int {
	is := is.New(t)
	by := map[string]string{} // workflow ID: the claimer it was returned to
	for i, wfs := range took {
		for _, wf := range wfs {
			_, twice := by[wf.ID]
			is.True(!twice) // no row is returned to two claimers
			by[wf.ID] = claimer(i)
		}
	}
	for id, exec := range by {
		wf, err := s.GetWorkflow(t.Context(), id)
		is.NoErr(err)                            // get
		is.Equal(wf.Status, store.StatusPending) // a claimed row runs
		is.Equal(wf.ExecutorID, exec)            // for the claimer it was returned to
		is.Equal(wf.RecoveryAttempts, 1)         // claimed once
	}
	return len(by)
}

// running returns the PENDING workflows of queue q, read through s.
func running(t *testing.T, s store.Store, q string) []store.Workflow {
	is := is.New(t)
	wfs, err := s.ListWorkflows(t.Context(), store.ListParams{Queue: q, Statuses: []store.Status{store.StatusPending}})
	is.NoErr(err) // list the running workflows
	return wfs
}

func testConcurrentClaimLimits(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store) {
	// A race that loses shows only when claims overlap, which a small
	// machine may not make them do every time: each case races again
	// and again, in rounds on one queue or on queues of their own.
	t.Run("a global concurrency limit holds across stores", func(t *testing.T) {
		const limit, rounds = 5, 8
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		s := stores[0]
		raceQueue(t, s, "q", 60, nil)
		p := raceClaim("q")
		p.GlobalConcurrency = limit
		for r := range rounds {
			took := claimedOnce(t, s, claimRace(t, stores, p))
			if r == 0 {
				is.Equal(took, limit) // the claims fill the queue up to the limit
			} else {
				is.Equal(took, 2) // then the two slots freed
			}
			run := running(t, s, "q")
			is.Equal(len(run), limit) // the queue runs as many as its limit, however many claim at once
			for i, wf := range run[:2] {
				finish(t, stores[(r+i)%racers], wf.ID, r+1) // free two slots
			}
		}
	})

	t.Run("a rate limit holds across stores", func(t *testing.T) {
		const limit, queues = 4, 6
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		s := stores[0]
		for n := range queues {
			q := fmt.Sprint("q-", n)
			raceQueue(t, s, q, 20, nil)
			p := raceClaim(q)
			p.RateLimit, p.RatePeriod = limit, time.Hour
			is.Equal(claimedOnce(t, s, claimRace(t, stores, p)), limit) // the limit, however many claim at once
			run := running(t, s, q)
			is.Equal(len(run), limit) // the queue has started as many as its limit
			for i, wf := range run {
				finish(t, stores[i%racers], wf.ID, i+1) // not a concurrency limit: finishing frees nothing
			}
			is.Equal(claimedOnce(t, s, claimRace(t, stores, p)), 0) // none more within the period
			wfs, err := s.ListWorkflows(t.Context(), store.ListParams{Queue: q})
			is.NoErr(err) // list the queue
			started := 0
			for _, wf := range wfs {
				if !wf.StartedAt.IsZero() {
					started++
				}
			}
			is.Equal(started, limit) // the database holds as many started as the limit
		}
	})

	t.Run("a partition limit holds across stores", func(t *testing.T) {
		const limit, queues = 2, 4
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		s := stores[0]
		key := func(i int) string { return fmt.Sprint("k", i%3) }
		full := map[string]int{"k0": limit, "k1": limit, "k2": limit}
		for n := range queues {
			q := fmt.Sprint("q-", n)
			raceQueue(t, s, q, 30, key)
			p := raceClaim(q)
			p.PartitionConcurrency = limit
			perKey := func() map[string]int {
				n := map[string]int{}
				for _, wf := range running(t, s, q) {
					n[wf.PartitionKey]++
				}
				return n
			}
			is.Equal(claimedOnce(t, s, claimRace(t, stores, p)), 3*limit) // the limit in each of the three partitions
			is.Equal(perKey(), full)                                      // the database runs as many in each as the limit
			finish(t, stores[1], q+"-wf-000", 1)                          // free a slot in partition k0
			is.Equal(claimedOnce(t, s, claimRace(t, stores, p)), 1)       // of all the claimers, one takes the free slot
			is.Equal(perKey(), full)                                      // and it was k0's
		}
	})
}

func testConcurrentDeduplication(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store) {
	t.Run("of enqueues with one deduplication ID on several stores, one wins", func(t *testing.T) {
		const rounds = 3
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		ctx := t.Context()
		for r := range rounds {
			id := func(i int) string { return fmt.Sprintf("wf-%d-%d", r, i) }
			created := make([]bool, racers)
			errs := make([]error, racers)
			race(racers, func(i int) {
				p := enqueueParams(id(i), "q", r)
				p.DeduplicationID = "d"
				_, created[i], errs[i] = stores[i].Enqueue(ctx, p)
			})

			winner := slices.Index(created, true)
			is.True(winner >= 0)                                 // one enqueue wins
			is.Equal(slices.Index(created[winner+1:], true), -1) // only one
			for i, err := range errs {
				if i == winner {
					is.NoErr(err) // the winner's enqueue succeeds
					continue
				}
				var de *store.DeduplicatedError
				is.True(errors.As(err, &de))                                                                   // the others are deduplicated
				is.True(errors.Is(err, store.ErrDeduplicated))                                                 // matching the sentinel
				is.Equal(*de, store.DeduplicatedError{Queue: "q", DeduplicationID: "d", HolderID: id(winner)}) // by the winner
			}
			active, err := stores[r].ListWorkflows(ctx, store.ListParams{Queue: "q",
				Statuses: []store.Status{store.StatusEnqueued, store.StatusPending}})
			is.NoErr(err)                               // list the queue
			is.Equal(ids(active), []string{id(winner)}) // the database holds the winner alone
			_, err = stores[(r+1)%racers].CancelWorkflow(ctx, store.CancelParams{WorkflowID: id(winner), Now: at(r)})
			is.NoErr(err) // cancel the winner, which frees the ID for the next round
		}
	})
}
