package postgres_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// These tests race several stores on one schema, as several processes on
// several machines would, and count the results from the database.

const racers = 8

// fleet opens racers stores on one new schema and returns them with the
// schema's name.
func fleet(t *testing.T) ([]*postgres.Store, string) {
	t.Helper()
	schema := newSchema(t)
	u := withParam(testURL(t), "schema", schema)
	stores := make([]*postgres.Store, racers)
	for i := range stores {
		stores[i] = open(t, u)
	}
	return stores, schema
}

// race runs fn(i) for i in [0, n) on n goroutines released together. fn
// must not fail the test: it runs off the test goroutine.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// count runs a count query on the schema.
func count(t *testing.T, schema, q string, args ...any) int {
	t.Helper()
	var n int
	if err := schemaDB(t, schema).QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func enqueueN(t *testing.T, s store.Store, queue string, n int, key func(i int) string) {
	t.Helper()
	is := is.New(t)
	for i := range n {
		p := store.EnqueueParams{Queue: queue, WorkflowCreateParams: store.WorkflowCreateParams{ID: fmt.Sprintf("%s-%03d", queue, i), Name: "f"}}
		if key != nil {
			p.PartitionKey = key(i)
		}
		_, _, err := s.Enqueue(t.Context(), p)
		is.NoErr(err) // enqueue
	}
}

// claimRace has every store claim from queue at once, with p's limits,
// and returns how many each took.
func claimRace(t *testing.T, stores []*postgres.Store, p store.ClaimParams) []int {
	t.Helper()
	is := is.New(t)
	got := make([]int, len(stores))
	errs := make([]error, len(stores))
	race(len(stores), func(i int) {
		q := p
		q.ExecutorID = fmt.Sprintf("exec-%d", i)
		wfs, err := stores[i].Claim(t.Context(), q)
		got[i], errs[i] = len(wfs), err
	})
	for _, err := range errs {
		is.NoErr(err) // claim
	}
	return got
}

func sum(ns []int) int {
	n := 0
	for _, v := range ns {
		n += v
	}
	return n
}

func TestRaceClaimLimits(t *testing.T) {
	t.Run("global concurrency", func(t *testing.T) {
		is := is.New(t)
		stores, schema := fleet(t)
		enqueueN(t, stores[0], "q", 60, nil)
		p := store.ClaimParams{Queue: "q", Names: []string{"f"}, Max: 3, GlobalConcurrency: 5}
		for round := range 5 {
			claimRace(t, stores, p)
			running := count(t, schema, `SELECT count(*) FROM workflows WHERE status = 'PENDING'`)
			is.Equal(running, 5) // the limit, however many claim at once
			var ids []string
			rows, err := schemaDB(t, schema).Query(`SELECT id FROM workflows WHERE status = 'PENDING' ORDER BY id LIMIT 2`)
			is.NoErr(err)
			for rows.Next() {
				var id string
				is.NoErr(rows.Scan(&id))
				ids = append(ids, id)
			}
			is.NoErr(rows.Err())
			for _, id := range ids {
				ok, err := stores[round%racers].SetOutcome(t.Context(), store.OutcomeParams{WorkflowID: id, Status: store.StatusSuccess})
				is.NoErr(err) // finish
				is.True(ok)   // two slots free
			}
		}
		is.Equal(count(t, schema, `SELECT count(*) FROM workflows WHERE recovery_attempts > 1`), 0) // none claimed twice
	})

	t.Run("rate limit, by the database's clock", func(t *testing.T) {
		is := is.New(t)
		stores, schema := fleet(t)
		enqueueN(t, stores[0], "q", 60, nil)
		p := store.ClaimParams{Queue: "q", Names: []string{"f"}, Max: 3, RateLimit: 4, RatePeriod: time.Hour}
		is.Equal(sum(claimRace(t, stores, p)), 4) // the limit, however many claim at once
		is.Equal(sum(claimRace(t, stores, p)), 0) // and none more within the period
		is.Equal(count(t, schema, `SELECT count(*) FROM workflows WHERE started_at <> 0`), 4)
	})

	t.Run("partitions", func(t *testing.T) {
		is := is.New(t)
		stores, schema := fleet(t)
		enqueueN(t, stores[0], "q", 60, func(i int) string { return fmt.Sprint("k", i%3) })
		p := store.ClaimParams{Queue: "q", Names: []string{"f"}, Max: 3, PartitionConcurrency: 2}
		is.Equal(sum(claimRace(t, stores, p)), 6) // two per partition
		is.Equal(count(t, schema, `SELECT max(n) FROM (SELECT count(*) AS n FROM workflows
			WHERE status = 'PENDING' GROUP BY partition_key) AS c`), 2) // in each of the three
	})
}

func TestRaceDedup(t *testing.T) {
	is := is.New(t)
	stores, schema := fleet(t)
	created := make([]bool, racers)
	errs := make([]error, racers)
	race(racers, func(i int) {
		_, created[i], errs[i] = stores[i].Enqueue(t.Context(), store.EnqueueParams{Queue: "q", DeduplicationID: "d",
			WorkflowCreateParams: store.WorkflowCreateParams{ID: fmt.Sprint("wf-", i), Name: "f"}})
	})
	winner := slices.Index(created, true)
	is.True(winner >= 0)                                            // one enqueue wins
	is.Equal(slices.Index(created[winner+1:], true), -1)            // only one
	is.Equal(count(t, schema, `SELECT count(*) FROM workflows`), 1) // one row
	for i, err := range errs {
		if i == winner {
			is.NoErr(err) // the winner
			continue
		}
		var de *store.DeduplicatedError
		is.True(errors.As(err, &de))                     // the others are deduplicated
		is.Equal(de.HolderID, fmt.Sprint("wf-", winner)) // by the winner
	}
}

func TestRaceStreamOffsets(t *testing.T) {
	const writes = 25
	is := is.New(t)
	stores, schema := fleet(t)
	_, _, err := stores[0].CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf", Name: "f"})
	is.NoErr(err) // create
	errs := make([]error, racers)
	race(racers, func(i int) {
		for n := range writes {
			v := fmt.Sprintf("%d-%d", i, n)
			if err := stores[i].WriteStream(t.Context(), store.StreamWrite{WorkflowID: "wf", Key: "s", Value: []byte(v)}); err != nil {
				errs[i] = err
				return
			}
		}
	})
	for _, err := range errs {
		is.NoErr(err) // every write succeeds
	}
	entries, closed, err := stores[0].ReadStream(t.Context(), "wf", "s", 0)
	is.NoErr(err)
	is.True(!closed)
	is.Equal(len(entries), racers*writes) // every value
	seen := map[string]bool{}
	last := map[byte]int{}
	for i, e := range entries {
		is.Equal(e.Offset, i) // offsets from 0, with no gap
		v := string(e.Value)
		is.True(!seen[v]) // each value once
		seen[v] = true
		var w, n int
		fmt.Sscanf(v, "%d-%d", &w, &n)
		if prev, ok := last[byte(w)]; ok {
			is.True(n > prev) // each writer's values in its order
		}
		last[byte(w)] = n
	}
	is.Equal(count(t, schema, `SELECT count(DISTINCT pos) FROM streams`), racers*writes)
}

func TestRaceConsume(t *testing.T) {
	const msgs = 200
	is := is.New(t)
	stores, schema := fleet(t)
	ctx := t.Context()
	_, _, err := stores[0].CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "dest", Name: "f"})
	is.NoErr(err) // create
	for i := range msgs {
		is.NoErr(stores[0].Send(ctx, store.SendParams{DestinationID: "dest", Topic: "t", Payload: []byte(fmt.Sprint(i))})) // send
	}
	var mu sync.Mutex
	var got []string
	errs := make([]error, racers)
	race(racers, func(i int) {
		for n := 0; ; n++ {
			b, ok, err := stores[i].ConsumeMessage(ctx, store.ConsumeParams{WorkflowID: "dest", Topic: "t",
				Step: store.Step{WorkflowID: "dest", StepID: i*1000 + n, Name: "recv"}})
			if err != nil || !ok {
				errs[i] = err
				return
			}
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
		}
	})
	for _, err := range errs {
		is.NoErr(err) // consume
	}
	slices.Sort(got)
	is.Equal(len(got), msgs)                                                         // every message
	is.Equal(len(slices.Compact(got)), msgs)                                         // none twice
	is.Equal(count(t, schema, `SELECT count(*) FROM messages WHERE consumed`), msgs) // all consumed
	is.Equal(count(t, schema, `SELECT count(DISTINCT output) FROM steps`), msgs)     // each recorded once
}

func TestRaceAdoption(t *testing.T) {
	const wfs = 20
	is := is.New(t)
	stores, schema := fleet(t)
	ctx := t.Context()
	_, err := stores[0].RegisterInstance(ctx, store.InstanceParams{ID: "dead", ExecutorID: "e"})
	is.NoErr(err) // register the instance that dies
	for i := range wfs {
		_, _, err := stores[0].CreateWorkflow(ctx, store.WorkflowCreateParams{ID: fmt.Sprint("wf-", i), Name: "f", Owner: "dead"})
		is.NoErr(err) // its workflows
	}
	is.NoErr(stores[0].StopInstance(ctx, "dead")) // it dies
	for i, s := range stores {
		_, err := s.RegisterInstance(ctx, store.InstanceParams{ID: fmt.Sprint("live-", i), ExecutorID: "e"})
		is.NoErr(err) // a live instance per store
	}
	adopted := make([][]string, racers)
	errs := make([]error, racers)
	race(racers, func(i int) {
		me := fmt.Sprint("live-", i)
		orphans, err := stores[i].Orphans(ctx, store.OrphanParams{})
		if err != nil {
			errs[i] = err
			return
		}
		for _, o := range orphans {
			wf, err := stores[i].RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: o.ID, From: o.Owner, Owner: me,
				ExecutorID: "e", MaxAttempts: -1})
			if err != nil {
				errs[i] = err
				return
			}
			if wf.Owner == me {
				adopted[i] = append(adopted[i], wf.ID)
			}
		}
	})
	var all []string
	for i := range racers {
		is.NoErr(errs[i]) // adopt
		all = append(all, adopted[i]...)
	}
	slices.Sort(all)
	is.Equal(len(all), wfs)                                                                                               // every workflow adopted
	is.Equal(len(slices.Compact(all)), wfs)                                                                               // by one instance each
	is.Equal(count(t, schema, `SELECT count(*) FROM workflows WHERE owner LIKE 'live-%' AND recovery_attempts = 2`), wfs) // counted once
	orphans, err := stores[0].Orphans(ctx, store.OrphanParams{})
	is.NoErr(err)
	is.Equal(len(orphans), 0)                                                         // none left
	is.Equal(count(t, schema, `SELECT count(*) FROM instances WHERE id = 'dead'`), 0) // and the dead instance forgotten

	err = stores[0].RecordStep(ctx, store.StepParams{Owner: "dead", Step: store.Step{WorkflowID: "wf-0", StepID: 1, Name: "s"}})
	is.True(errors.Is(err, store.ErrNotOwner)) // the dead instance's writes are refused
}

// TestFencedAfterAdoption races an owner recording steps with another
// instance adopting its workflow: once the adopter has read the steps,
// no step of the old owner may land, or the adopter would run a step
// that is recorded already.
func TestFencedAfterAdoption(t *testing.T) {
	const rounds = 20
	is := is.New(t)
	stores, _ := fleet(t)
	ctx := t.Context()
	a, b := stores[0], stores[1]
	for _, id := range []string{"old", "new"} {
		_, err := a.RegisterInstance(ctx, store.InstanceParams{ID: id, ExecutorID: "e"})
		is.NoErr(err) // register
	}
	for r := range rounds {
		id := fmt.Sprint("wf-", r)
		_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: id, Name: "f", Owner: "old"})
		is.NoErr(err) // create
		done := make(chan error, 1)
		go func() {
			for n := 1; ; n++ {
				err := a.RecordStep(ctx, store.StepParams{Owner: "old", Step: store.Step{WorkflowID: id, StepID: n, Name: "s"}})
				if err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(time.Duration(r%5) * time.Millisecond)
		wf, err := b.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: id, From: "old", Owner: "new", ExecutorID: "e", MaxAttempts: -1})
		is.NoErr(err)             // adopt
		is.Equal(wf.Owner, "new") // adopted
		seen, err := b.Steps(ctx, id)
		is.NoErr(err)                                 // the adopter reads the steps
		is.True(errors.Is(<-done, store.ErrNotOwner)) // the old owner is refused
		after, err := b.Steps(ctx, id)
		is.NoErr(err)
		is.Equal(len(after), len(seen)) // no step landed after the adoption
	}
}
