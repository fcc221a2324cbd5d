package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// These tests make the store write many calls in one batch (see group.go)
// and check that each caller gets the answer its own write would have
// had. A write that a trigger of the test holds in flight for a second
// makes the calls that follow queue up; they go together once it returns.

// holdSQL makes a write sleep a second, in its statement, when it inserts
// a step named "hold" or inserts or updates a workflow "hold"; and sleep
// a minute, once (the sequence kills counts), when it inserts a step
// named "kill-me": at the end of its statement, or with deferred at its
// COMMIT.
func holdSQL(deferred bool) string {
	kill := `CREATE FUNCTION kill_me() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF EXISTS (SELECT 1 FROM new WHERE name = 'kill-me') THEN
				IF nextval('kills') = 1 THEN PERFORM pg_sleep(60); END IF;
			END IF;
			RETURN NULL; END $$;
		CREATE TRIGGER kill_me AFTER INSERT ON steps REFERENCING NEW TABLE AS new FOR EACH STATEMENT EXECUTE FUNCTION kill_me();`
	if deferred {
		kill = `CREATE FUNCTION kill_me() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.name = 'kill-me' THEN
				IF nextval('kills') = 1 THEN PERFORM pg_sleep(60); END IF;
			END IF;
			RETURN NULL; END $$;
		CREATE CONSTRAINT TRIGGER kill_me AFTER INSERT ON steps DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION kill_me();`
	}
	return `CREATE SEQUENCE kills;
		CREATE FUNCTION hold_steps() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF EXISTS (SELECT 1 FROM new WHERE name = 'hold') THEN PERFORM pg_sleep(1); END IF;
			RETURN NULL; END $$;
		CREATE TRIGGER hold_steps AFTER INSERT ON steps REFERENCING NEW TABLE AS new FOR EACH STATEMENT EXECUTE FUNCTION hold_steps();
		CREATE FUNCTION hold_workflows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF EXISTS (SELECT 1 FROM new WHERE id = 'hold') THEN PERFORM pg_sleep(1); END IF;
			RETURN NULL; END $$;
		CREATE TRIGGER hold_created AFTER INSERT ON workflows REFERENCING NEW TABLE AS new FOR EACH STATEMENT EXECUTE FUNCTION hold_workflows();
		CREATE TRIGGER hold_updated AFTER UPDATE ON workflows REFERENCING NEW TABLE AS new FOR EACH STATEMENT EXECUTE FUNCTION hold_workflows();
		` + kill
}

// batchStore opens a store on a new schema whose writes hold as holdSQL
// says, and returns it with the schema and the store's application name.
func batchStore(t *testing.T, deferred bool) (*postgres.Store, string, string) {
	t.Helper()
	is := is.New(t)
	app := fmt.Sprint("dboslite_batch_", time.Now().UnixNano())
	schema := newSchema(t)
	s := open(t, withParam(withParam(testURL(t), "schema", schema), "application_name", app))
	_, err := schemaDB(t, schema).Exec(holdSQL(deferred))
	is.NoErr(err) // the triggers
	return s, schema, app
}

// behind runs hold, a write that holdSQL makes last a second, on a store
// of application app, and while it is in flight starts calls, each on its
// own goroutine. It waits until queued says they all wait for the next
// batch, then for hold to return, then calls then, if set, and waits for
// the calls.
func behind(t *testing.T, app string, hold func() error, queued func() int, calls []func(), then func()) {
	t.Helper()
	held := make(chan error, 1)
	go func() { held <- hold() }()
	if !eventually(func() bool { return sleepers(t, app) > 0 }) {
		t.Fatal("the held write never slept")
	}
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(c)
	}
	if !eventually(func() bool { return queued() == len(calls) }) {
		t.Fatalf("%d calls never queued behind the held write (%d did)", len(calls), queued())
	}
	if err := <-held; err != nil {
		t.Fatalf("the held write: %v", err)
	}
	if then != nil {
		then()
	}
	wg.Wait()
}

// sleepers returns how many backends of app sleep in pg_sleep.
func sleepers(t *testing.T, app string) int {
	t.Helper()
	var n int
	err := rawDB(t, testURL(t)).QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND wait_event = 'PgSleep'`, app).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// errOneOf is the answer of a call that races another for one key: one
// of the two succeeds, the other is refused.
var errOneOf = errors.New("one of two")

// stepCall is one RecordStep and the answer it must get.
type stepCall struct {
	p    store.StepParams
	want error // nil, errOneOf or an error errors.Is finds
}

// world registers, through s, the instances live, other and dead (which
// the caller stops once it owns workflows), and returns a function that
// creates a workflow owned by one of them, or by none.
func world(t *testing.T, s *postgres.Store) func(id, owner string) {
	t.Helper()
	is := is.New(t)
	ctx := t.Context()
	for _, id := range []string{"live", "other", "dead"} {
		_, err := s.RegisterInstance(ctx, store.InstanceParams{ID: id, ExecutorID: "e"})
		is.NoErr(err) // register
	}
	return func(id, owner string) {
		_, created, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: id, Name: "f", Owner: owner})
		is.NoErr(err)    // create
		is.True(created) // a new workflow
	}
}

// stepWorld creates workflows in every state a step can meet and returns
// calls, fewer than one batch holds, that meet each of them.
func stepWorld(t *testing.T, s *postgres.Store) []stepCall {
	t.Helper()
	is := is.New(t)
	ctx := t.Context()
	create := world(t, s)
	var calls []stepCall
	add := func(wf string, n int, owner, output string, want error) {
		calls = append(calls, stepCall{store.StepParams{Owner: owner, Step: store.Step{WorkflowID: wf, StepID: n, Name: "s",
			Output: []byte(output)}}, want})
	}
	create("hold", "live")
	for i := range 40 {
		create(fmt.Sprint("own-", i), "live")
		add(fmt.Sprint("own-", i), 1, "live", "1", nil) // a new step of its owner
	}
	for i := range 10 {
		create(fmt.Sprint("free-", i), "")
		add(fmt.Sprint("free-", i), 1, "", "1", nil)                   // no owner, no fence
		add(fmt.Sprint("free-", i), 2, "live", "1", store.ErrNotOwner) // not the owner's
		create(fmt.Sprint("replay-", i), "live")
		is.NoErr(s.RecordStep(ctx, store.StepParams{Owner: "live", Step: store.Step{WorkflowID: fmt.Sprint("replay-", i),
			StepID: 1, Name: "s", Output: []byte("1")}})) // recorded before
		add(fmt.Sprint("replay-", i), 1, "live", "1", nil)               // the same again
		add(fmt.Sprint("replay-", i), 1, "live", "2", store.ErrConflict) // something else
	}
	for i := range 5 {
		create(fmt.Sprint("theirs-", i), "other")
		add(fmt.Sprint("theirs-", i), 1, "live", "1", store.ErrNotOwner)
		create(fmt.Sprint("orphan-", i), "dead")
		add(fmt.Sprint("orphan-", i), 1, "dead", "1", store.ErrNotOwner) // its owner is dead
		create(fmt.Sprint("cancelled-", i), "live")
		_, err := s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: fmt.Sprint("cancelled-", i), Reason: []byte("no")})
		is.NoErr(err)                                                        // cancel
		add(fmt.Sprint("cancelled-", i), 1, "live", "1", store.ErrCancelled) // cancelled first, owned or not
		add(fmt.Sprint("missing-", i), 1, "live", "1", store.ErrNotFound)    // no such workflow
		create(fmt.Sprint("race-", i), "live")
		add(fmt.Sprint("race-", i), 1, "live", "1", errOneOf) // two different records of one new step
		add(fmt.Sprint("race-", i), 1, "live", "2", errOneOf)
	}
	is.NoErr(s.StopInstance(ctx, "dead")) // dead from now on
	return calls
}

// recordBehind records calls in batches behind a held step, calling then
// (if set) once the held step is recorded, and returns their answers.
func recordBehind(t *testing.T, s *postgres.Store, app string, calls []stepCall, then func()) []error {
	t.Helper()
	got := make([]error, len(calls))
	fns := make([]func(), len(calls))
	for i, c := range calls {
		fns[i] = func() { got[i] = s.RecordStep(context.Background(), c.p) }
	}
	hold := func() error {
		return s.RecordStep(t.Context(), store.StepParams{Owner: "live", Step: store.Step{WorkflowID: "hold", StepID: 1, Name: "hold"}})
	}
	behind(t, app, hold, func() int { n, _, _ := s.Queued(); return n }, fns, then)
	return got
}

// checkSteps checks each call's answer, and that the steps recorded are
// those of the calls that succeeded.
func checkSteps(t *testing.T, s *postgres.Store, calls []stepCall, got []error) {
	t.Helper()
	is := is.New(t)
	won := map[string]string{}
	for i, c := range calls {
		key := fmt.Sprint(c.p.Step.WorkflowID, "/", c.p.Step.StepID)
		switch {
		case c.want == errOneOf && got[i] == nil:
			is.Equal(won[key], "") // one of the two wins
			won[key] = string(c.p.Step.Output)
		case c.want == errOneOf:
			is.True(errors.Is(got[i], store.ErrConflict)) // the other conflicts
		case c.want == nil:
			if got[i] != nil {
				t.Errorf("%s by %q: %v, want nil", key, c.p.Owner, got[i])
			}
			won[key] = string(c.p.Step.Output)
		case !errors.Is(got[i], c.want):
			t.Errorf("%s by %q: %v, want %v", key, c.p.Owner, got[i], c.want)
		}
	}
	for _, c := range calls {
		key := fmt.Sprint(c.p.Step.WorkflowID, "/", c.p.Step.StepID)
		steps, err := s.Steps(t.Context(), c.p.Step.WorkflowID)
		is.NoErr(err) // read the steps
		var recorded string
		for _, st := range steps {
			if st.StepID == c.p.Step.StepID {
				recorded = string(st.Output)
			}
		}
		is.Equal(recorded, won[key]) // recorded only by a call that succeeded
	}
}

// distinctSteps returns how many keys calls have: the most one batch of
// them holds.
func distinctSteps(calls []stepCall) int {
	keys := map[string]bool{}
	for _, c := range calls {
		keys[fmt.Sprint(c.p.Step.WorkflowID, "/", c.p.Step.StepID)] = true
	}
	return len(keys)
}

func TestBatchedStepsEachGetTheirAnswer(t *testing.T) {
	is := is.New(t)
	s, _, app := batchStore(t, false)
	calls := stepWorld(t, s)
	got := recordBehind(t, s, app, calls, nil)
	checkSteps(t, s, calls, got)
	steps, _, _ := s.LargestBatches()
	is.Equal(steps, distinctSteps(calls)) // one batch took every key
}

// TestBatchRetriedAfterKill kills the connection of a batch of steps in
// the middle of its statement, and during its COMMIT: the batch is tried
// again, as a whole, and every caller still gets its own answer.
func TestBatchRetriedAfterKill(t *testing.T) {
	for _, c := range []struct {
		name     string
		deferred bool
	}{{"in the statement", false}, {"in the commit", true}} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			s, schema, app := batchStore(t, c.deferred)
			calls := stepWorld(t, s)
			_, _, err := s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "victim", Name: "f", Owner: "live"})
			is.NoErr(err) // create
			calls = append(calls, stepCall{store.StepParams{Owner: "live", Step: store.Step{WorkflowID: "victim", StepID: 1,
				Name: "kill-me", Output: []byte("1")}}, nil})
			got := recordBehind(t, s, app, calls, func() {
				killSleeper(t, app) // the batch, asleep in its trigger
			})
			checkSteps(t, s, calls, got)
			is.Equal(count(t, schema, `SELECT last_value FROM kills`), 2) // the batch ran twice: killed, then through
			steps, _, _ := s.LargestBatches()
			is.Equal(steps, distinctSteps(calls)) // in one batch
		})
	}
}

func TestBatchedOutcomesEachGetTheirAnswer(t *testing.T) {
	is := is.New(t)
	s, schema, app := batchStore(t, false)
	ctx := t.Context()
	create := world(t, s)
	type outcomeCall struct {
		p    store.OutcomeParams
		want any // true, false, errOneOf or an error
	}
	var calls []outcomeCall
	add := func(id, owner string, want any) {
		calls = append(calls, outcomeCall{store.OutcomeParams{WorkflowID: id, Status: store.StatusSuccess, Owner: owner,
			Output: []byte(`"` + id + `"`)}, want})
	}
	create("hold", "live")
	for i := range 40 {
		create(fmt.Sprint("own-", i), "live")
		add(fmt.Sprint("own-", i), "live", true) // its owner ends it
	}
	for i := range 5 {
		create(fmt.Sprint("free-", i), "")
		add(fmt.Sprint("free-", i), "", true) // no owner, no fence
		create(fmt.Sprint("theirs-", i), "other")
		add(fmt.Sprint("theirs-", i), "live", store.ErrNotOwner)
		create(fmt.Sprint("orphan-", i), "dead")
		add(fmt.Sprint("orphan-", i), "dead", store.ErrNotOwner)
		create(fmt.Sprint("done-", i), "live")
		ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: fmt.Sprint("done-", i), Status: store.StatusError, Owner: "live"})
		is.NoErr(err) // ended before
		is.True(ok)
		add(fmt.Sprint("done-", i), "live", false) // not PENDING any more
		create(fmt.Sprint("cancelled-", i), "live")
		_, err = s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: fmt.Sprint("cancelled-", i)})
		is.NoErr(err)                                   // cancel
		add(fmt.Sprint("cancelled-", i), "live", false) // stays CANCELLED
		add(fmt.Sprint("missing-", i), "live", store.ErrNotFound)
		create(fmt.Sprint("twice-", i), "live")
		add(fmt.Sprint("twice-", i), "live", errOneOf) // the first sets it, the other finds it ended
		add(fmt.Sprint("twice-", i), "live", errOneOf)
	}
	is.NoErr(s.StopInstance(ctx, "dead"))

	oks := make([]bool, len(calls))
	errs := make([]error, len(calls))
	fns := make([]func(), len(calls))
	for i, c := range calls {
		fns[i] = func() { oks[i], errs[i] = s.SetOutcome(context.Background(), c.p) }
	}
	hold := func() error {
		_, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "hold", Status: store.StatusSuccess, Owner: "live"})
		return err
	}
	behind(t, app, hold, func() int { _, n, _ := s.Queued(); return n }, fns, nil)

	won := map[string]bool{}
	for i, c := range calls {
		id := c.p.WorkflowID
		switch c.want {
		case errOneOf:
			is.NoErr(errs[i])             // a second outcome is no error
			is.True(!(won[id] && oks[i])) // only one sets it
			won[id] = won[id] || oks[i]
		case true, false:
			is.NoErr(errs[i])
			is.Equal(oks[i], c.want) // set, or not PENDING
			won[id] = oks[i]
		default:
			if !errors.Is(errs[i], c.want.(error)) {
				t.Errorf("outcome of %s by %q: %v, want %v", id, c.p.Owner, errs[i], c.want)
			}
		}
	}
	for i := range 5 {
		is.True(won[fmt.Sprint("twice-", i)]) // one of the two set it
	}
	db := schemaDB(t, schema)
	for _, c := range calls {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM workflows WHERE id = $1 AND output = $2::bytea`, c.p.WorkflowID, c.p.Output).Scan(&n)
		is.NoErr(err)
		is.Equal(n == 1, won[c.p.WorkflowID]) // the outcome is written where it was set, only there
	}
	_, outcomes, _ := s.LargestBatches()
	is.Equal(outcomes, len(calls)-5) // one batch took every workflow
}

func TestBatchedCreatesEachGetTheirAnswer(t *testing.T) {
	is := is.New(t)
	s, _, app := batchStore(t, false)
	ctx := t.Context()
	create := world(t, s)
	type createCall struct {
		p    store.WorkflowCreateParams
		want any // true (created), false (found), errOneOf or an error
	}
	var calls []createCall
	add := func(id, owner string, want any) {
		calls = append(calls, createCall{store.WorkflowCreateParams{ID: id, Name: "new", Owner: owner, Input: []byte(id)}, want})
	}
	for i := range 40 {
		add(fmt.Sprint("new-", i), "live", true)
	}
	for i := range 10 {
		add(fmt.Sprint("free-", i), "", true)
		create(fmt.Sprint("old-", i), "other")
		add(fmt.Sprint("old-", i), "live", false) // exists: returned as it is
	}
	for i := range 5 {
		add(fmt.Sprint("lost-", i), "dead", store.ErrInstanceLost)
		add(fmt.Sprint("twice-", i), "live", errOneOf) // one creates it, the other finds it
		add(fmt.Sprint("twice-", i), "live", errOneOf)
	}
	is.NoErr(s.StopInstance(ctx, "dead"))

	wfs := make([]store.Workflow, len(calls))
	created := make([]bool, len(calls))
	errs := make([]error, len(calls))
	fns := make([]func(), len(calls))
	for i, c := range calls {
		fns[i] = func() { wfs[i], created[i], errs[i] = s.CreateWorkflow(context.Background(), c.p) }
	}
	hold := func() error {
		_, _, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "hold", Name: "f", Owner: "live"})
		return err
	}
	behind(t, app, hold, func() int { _, _, n := s.Queued(); return n }, fns, nil)

	won := map[string]bool{}
	for i, c := range calls {
		id := c.p.ID
		switch c.want {
		case errOneOf:
			is.NoErr(errs[i])                 // create
			is.True(!(won[id] && created[i])) // only one creates it
			won[id] = won[id] || created[i]
			is.Equal(wfs[i].Owner, "live") // both get the row
		case true:
			is.NoErr(errs[i])   // create
			is.True(created[i]) // new
			is.Equal(wfs[i].Name, "new")
			is.Equal(wfs[i].Owner, c.p.Owner)
			is.Equal(string(wfs[i].Input), id) // its own row
			is.Equal(wfs[i].Status, store.StatusPending)
		case false:
			is.NoErr(errs[i])               // create
			is.True(!created[i])            // found
			is.Equal(wfs[i].Name, "f")      // the row as it was
			is.Equal(wfs[i].Owner, "other") // untouched
		default:
			if !errors.Is(errs[i], c.want.(error)) {
				t.Errorf("create %s for %q: %v, want %v", id, c.p.Owner, errs[i], c.want)
			}
			_, err := s.GetWorkflow(ctx, id)
			is.True(errors.Is(err, store.ErrNotFound)) // nothing created
		}
	}
	for i := range 5 {
		is.True(won[fmt.Sprint("twice-", i)]) // one of the two created it
	}
	_, _, creates := s.LargestBatches()
	is.Equal(creates, len(calls)-5) // one batch took every ID
}

// TestCloseWhileBatching closes a store while many calls write steps:
// each ends, with no error or ErrClosed, and no goroutine is left.
func TestCloseWhileBatching(t *testing.T) {
	is := is.New(t)
	u := schemaURL(t)
	admin := rawDB(t, testURL(t))
	is.NoErr(admin.Ping()) // the test's own connection, made before the count
	before := goleak.IgnoreCurrent()
	s, err := postgres.Open(t.Context(), u)
	is.NoErr(err) // open
	for i := range 32 {
		_, _, err := s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: fmt.Sprint("wf-", i), Name: "f"})
		is.NoErr(err) // create
	}
	errs := make([]error, 32)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for n := 1; ; n++ {
				err := s.RecordStep(context.Background(), store.StepParams{Step: store.Step{WorkflowID: fmt.Sprint("wf-", i), StepID: n, Name: "s"}})
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	is.NoErr(s.Close()) // close while they write
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("calls still wait after Close")
	}
	for _, err := range errs {
		is.True(errors.Is(err, store.ErrClosed)) // each ends with ErrClosed
	}
	steps, _, _ := s.LargestBatches()
	is.True(steps > 1) // they were batched
	goleak.VerifyNone(t, before)
}

// TestBatchFencedAfterAdoption is TestFencedAfterAdoption with the old
// owner's steps written in batches: once the adopter has read a
// workflow's steps, no step of the old owner may land.
func TestBatchFencedAfterAdoption(t *testing.T) {
	const rounds, workflows = 10, 16
	is := is.New(t)
	stores, _ := fleet(t)
	ctx := t.Context()
	a, b := stores[0], stores[1]
	for _, id := range []string{"old", "new"} {
		_, err := a.RegisterInstance(ctx, store.InstanceParams{ID: id, ExecutorID: "e"})
		is.NoErr(err) // register
	}
	for r := range rounds {
		id := func(w int) string { return fmt.Sprintf("wf-%d-%d", r, w) }
		for w := range workflows {
			_, _, err := a.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: id(w), Name: "f", Owner: "old"})
			is.NoErr(err) // create
		}
		errs := make([]error, workflows)
		var wg sync.WaitGroup
		for w := range workflows {
			wg.Go(func() {
				for n := 1; ; n++ {
					err := a.RecordStep(ctx, store.StepParams{Owner: "old", Step: store.Step{WorkflowID: id(w), StepID: n, Name: "s"}})
					if err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(5+r%5) * time.Millisecond)
		seen := make([]int, workflows)
		for w := range workflows {
			wf, err := b.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: id(w), From: "old", Owner: "new", ExecutorID: "e", MaxAttempts: -1})
			is.NoErr(err)             // adopt
			is.Equal(wf.Owner, "new") // adopted
			steps, err := b.Steps(ctx, id(w))
			is.NoErr(err) // the adopter reads the steps
			seen[w] = len(steps)
		}
		wg.Wait()
		for w := range workflows {
			is.True(errors.Is(errs[w], store.ErrNotOwner)) // the old owner is refused
			after, err := b.Steps(ctx, id(w))
			is.NoErr(err)
			is.Equal(len(after), seen[w]) // no step landed after the adoption
		}
	}
	steps, _, _ := a.LargestBatches()
	is.True(steps > 1) // the old owner's steps went in batches
}
