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
// several machines would, and count the results from the database. The
// races every backend must win (claims under limits, deduplication,
// stream offsets, consumers, leases, one adopter per workflow) are in
// storetest, which TestConformance runs with several stores; these are
// the ones left to Postgres: orphans listed and dead instances forgotten
// (forgetDead's row locks) while stores adopt, and an old owner's writes
// fenced off once the adopter has read the steps.

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

// enqueueN enqueues n workflows named f on queue.
func enqueueN(t *testing.T, s store.Store, queue string, n int) {
	t.Helper()
	is := is.New(t)
	for i := range n {
		p := store.EnqueueParams{Queue: queue, WorkflowCreateParams: store.WorkflowCreateParams{ID: fmt.Sprintf("%s-%03d", queue, i), Name: "f"}}
		_, _, err := s.Enqueue(t.Context(), p)
		is.NoErr(err) // enqueue
	}
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
