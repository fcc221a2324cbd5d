package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// instanceParams returns the registration of instance id.
func instanceParams(id string) store.InstanceParams {
	return store.InstanceParams{
		ID:                 id,
		ExecutorID:         "exec-" + id,
		ApplicationVersion: "v1",
		ApplicationName:    "bank",
		Host:               "host-1",
		PID:                4242,
		ProcessStart:       "1700000000",
	}
}

// register registers a live instance.
func register(t *testing.T, s store.Store, id string) store.Instance {
	is := is.New(t)
	inst, err := s.RegisterInstance(t.Context(), instanceParams(id))
	is.NoErr(err) // register instance
	return inst
}

// stop declares an instance dead.
func stop(t *testing.T, s store.Store, id string) {
	is := is.New(t)
	is.NoErr(s.StopInstance(t.Context(), id)) // stop instance
}

// liveIDs returns the IDs Instances lists, in its order.
func liveIDs(t *testing.T, s store.Store) []string {
	is := is.New(t)
	insts, err := s.Instances(t.Context())
	is.NoErr(err) // list instances
	out := make([]string, 0, len(insts))
	for _, inst := range insts {
		is.True(!inst.Dead) // Instances lists live instances only
		out = append(out, inst.ID)
	}
	return out
}

// createOwned creates workflow id at at(n), owned by instance owner.
func createOwned(t *testing.T, s store.Store, id, owner string, n int) store.Workflow {
	p := params(id, n)
	p.Owner = owner
	return create(t, s, p)
}

// orphans returns the IDs of the orphaned workflows, sorted: the contract
// does not order them.
func orphans(t *testing.T, s store.Store) []string {
	is := is.New(t)
	wfs, err := s.Orphans(t.Context(), store.OrphanParams{})
	is.NoErr(err) // list orphans
	out := ids(wfs)
	slices.Sort(out)
	return out
}

// normInstance makes an instance comparable with is.Equal whichever time
// zone a backend gives its times in.
func normInstance(inst store.Instance) store.Instance {
	inst.StartedAt = inst.StartedAt.UTC()
	inst.HeartbeatAt = inst.HeartbeatAt.UTC()
	return inst
}

// tick waits long enough for a database clock of millisecond resolution
// to move on, so two writes a tick apart get different times.
func tick() { time.Sleep(5 * time.Millisecond) }

func testInstances(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("register returns the row, timed by the database", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		before := time.Now()
		inst := register(t, s, "inst-a")
		after := time.Now()

		p := instanceParams("inst-a")
		is.Equal(inst.ID, p.ID)                                 // ID as registered
		is.Equal(inst.ExecutorID, p.ExecutorID)                 // executor as registered
		is.Equal(inst.ApplicationVersion, p.ApplicationVersion) // version as registered
		is.Equal(inst.ApplicationName, p.ApplicationName)       // application as registered
		is.Equal(inst.Host, p.Host)                             // host as registered
		is.Equal(inst.PID, p.PID)                               // PID as registered
		is.Equal(inst.ProcessStart, p.ProcessStart)             // process start as registered
		is.True(!inst.Dead)                                     // a new instance is live
		// The database's clock is not the test's, but it is not far off:
		// zero or a constant time would be.
		near := func(tm time.Time) bool {
			return tm.After(before.Add(-time.Minute)) && tm.Before(after.Add(time.Minute))
		}
		is.True(near(inst.StartedAt))                     // started now, by the database's clock
		is.True(near(inst.HeartbeatAt))                   // first heartbeat now, by the database's clock
		is.True(!inst.HeartbeatAt.Before(inst.StartedAt)) // no heartbeat before the start

		got, err := s.Instances(t.Context())
		is.NoErr(err)                                      // list instances
		is.Equal(len(got), 1)                              // the registered instance is listed
		is.Equal(normInstance(got[0]), normInstance(inst)) // listed as registered
	})

	t.Run("the workflow names instances registered are remembered after them", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		known, err := s.KnownWorkflow(t.Context(), "main.Transfer")
		is.NoErr(err)
		is.True(!known) // nobody registered it yet
		_, err = s.RegisterInstance(t.Context(), store.InstanceParams{ID: "i1", ExecutorID: "e", ApplicationVersion: "v1",
			Workflows: []string{"main.Transfer", "main.Refund"}})
		is.NoErr(err)
		_, err = s.RegisterInstance(t.Context(), store.InstanceParams{ID: "i2", ExecutorID: "e", ApplicationVersion: "v1",
			Workflows: []string{"main.Transfer"}})
		is.NoErr(err) // a name registered twice
		is.NoErr(s.StopInstance(t.Context(), "i1"))
		for name, want := range map[string]bool{"main.Transfer": true, "main.Refund": true, "main.Transfr": false} {
			known, err := s.KnownWorkflow(t.Context(), name)
			is.NoErr(err)
			is.Equal(known, want) // remembered, the stopped instance's too; a typo is not
		}
	})
	t.Run("lists live instances oldest first", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		// Registered in the reverse of their IDs' order, a tick apart, so
		// only an order by start lists them this way.
		for _, id := range []string{"inst-d", "inst-c", "inst-b", "inst-a"} {
			register(t, s, id)
			tick()
		}
		stop(t, s, "inst-b")
		is.Equal(liveIDs(t, s), []string{"inst-d", "inst-c", "inst-a"}) // oldest first, the stopped one left out
	})

	t.Run("heartbeat renews", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		first := register(t, s, "inst-a")
		tick()
		is.NoErr(s.Heartbeat(t.Context(), "inst-a")) // a live instance heartbeats

		got, err := s.Instances(t.Context())
		is.NoErr(err)                                        // list instances
		is.Equal(len(got), 1)                                // still listed
		is.True(got[0].HeartbeatAt.After(first.HeartbeatAt)) // the heartbeat moved forward
		is.True(got[0].StartedAt.Equal(first.StartedAt))     // the start did not
	})

	t.Run("heartbeat of a stopped instance is ErrInstanceLost and renews nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-a")
		register(t, s, "inst-b")
		stop(t, s, "inst-a")

		err := s.Heartbeat(t.Context(), "inst-a")
		is.True(errors.Is(err, store.ErrInstanceLost)) // a stopped instance must stop running workflows
		is.Equal(liveIDs(t, s), []string{"inst-b"})    // the refused heartbeat did not bring it back
		err = s.Heartbeat(t.Context(), "inst-a")
		is.True(errors.Is(err, store.ErrInstanceLost)) // and a second one is refused too
		p := params("wf-1", 0)
		p.Owner = "inst-a"
		_, _, err = s.CreateWorkflow(t.Context(), p)
		is.True(errors.Is(err, store.ErrInstanceLost)) // it is still dead: given no work
		is.NoErr(s.Heartbeat(t.Context(), "inst-b"))   // the other instance heartbeats on
	})

	t.Run("stop is idempotent and orphans the instance's workflows at once", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-a")
		createOwned(t, s, "wf-1", "inst-a", 0)
		is.Equal(len(orphans(t, s)), 0) // a live instance's workflow is no orphan

		stop(t, s, "inst-a")
		is.Equal(orphans(t, s), []string{"wf-1"})                                     // orphaned as soon as its owner stops
		is.NoErr(s.StopInstance(t.Context(), "inst-a"))                               // stopping a dead instance is no error
		is.Equal(len(liveIDs(t, s)), 0)                                               // and changes nothing
		is.True(errors.Is(s.Heartbeat(t.Context(), "inst-a"), store.ErrInstanceLost)) // still dead
		is.Equal(orphans(t, s), []string{"wf-1"})                                     // its workflow still an orphan
	})

	t.Run("a lease longer than the age expires nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-a")
		register(t, s, "inst-b")
		expired, err := s.ExpireInstances(t.Context(), time.Hour)
		is.NoErr(err)                                         // expire
		is.Equal(len(expired), 0)                             // nobody's heartbeat is an hour old
		is.Equal(liveIDs(t, s), []string{"inst-a", "inst-b"}) // both still live
		is.NoErr(s.Heartbeat(t.Context(), "inst-a"))          // and heartbeating
	})

	t.Run("a lapsed lease is declared dead, a renewed one is not", func(t *testing.T) {
		// Nothing can tell the database's clock to move on: wait past the
		// lease. It is long enough that the heartbeat just before the
		// expiry is younger than it even on a loaded machine.
		const lease = 200 * time.Millisecond
		is := is.New(t)
		s := newStore(t)
		for _, id := range []string{"inst-a", "inst-b", "inst-c"} {
			register(t, s, id)
		}
		createOwned(t, s, "wf-a", "inst-a", 0)
		createOwned(t, s, "wf-b", "inst-b", 1)
		time.Sleep(lease + 100*time.Millisecond)
		is.NoErr(s.Heartbeat(t.Context(), "inst-b")) // renewed in time

		expired, err := s.ExpireInstances(t.Context(), lease)
		is.NoErr(err) // expire
		slices.Sort(expired)
		is.Equal(expired, []string{"inst-a", "inst-c"})                               // the lapsed ones, and only they
		is.Equal(liveIDs(t, s), []string{"inst-b"})                                   // they are dead
		is.True(errors.Is(s.Heartbeat(t.Context(), "inst-a"), store.ErrInstanceLost)) // a heartbeat that comes later is refused
		is.Equal(liveIDs(t, s), []string{"inst-b"})                                   // and renews nothing
		is.NoErr(s.Heartbeat(t.Context(), "inst-b"))                                  // the renewed one lives on
		is.Equal(orphans(t, s), []string{"wf-a"})                                     // the expired owner's workflow is orphaned

		err = s.RecordStep(t.Context(), store.StepParams{Owner: "inst-a", Step: step("wf-a", 1, "debit", `1`)})
		is.True(errors.Is(err, store.ErrNotOwner)) // an expired owner's writes are refused
		is.Equal(len(steps(t, s, "wf-a")), 0)      // and record nothing
	})
}

func testOrphans(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("PENDING workflows of no live instance", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "live")
		register(t, s, "doomed")
		create(t, s, params("no-owner", 0))
		createOwned(t, s, "of-dead", "doomed", 1)
		createOwned(t, s, "of-live", "live", 2)
		createOwned(t, s, "of-dead-done", "doomed", 3)
		finish(t, s, "of-dead-done", 4)
		create(t, s, params("no-owner-done", 5))
		finish(t, s, "no-owner-done", 6)
		createOwned(t, s, "of-dead-cancelled", "doomed", 7)
		_, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "of-dead-cancelled", Now: at(8)})
		is.NoErr(err) // cancel
		enqueue(t, s, enqueueParams("queued", "q", 9))
		stop(t, s, "doomed")

		got, err := s.Orphans(t.Context(), store.OrphanParams{})
		is.NoErr(err) // list orphans
		slices.SortFunc(got, func(a, b store.Workflow) int { return strings.Compare(a.ID, b.ID) })
		is.Equal(ids(got), []string{"no-owner", "of-dead"}) // unowned or dead-owned, PENDING only
		for _, wf := range got {
			stored, err := s.GetWorkflow(t.Context(), wf.ID)
			is.NoErr(err)                    // get
			is.Equal(norm(wf), norm(stored)) // an orphan is returned as stored
		}
	})

	t.Run("Limit", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for i, id := range []string{"wf-1", "wf-2", "wf-3"} {
			create(t, s, params(id, i))
		}
		got, err := s.Orphans(t.Context(), store.OrphanParams{Limit: 2})
		is.NoErr(err)                   // list orphans
		is.Equal(len(got), 2)           // at most Limit
		is.Equal(len(orphans(t, s)), 3) // 0 is no limit
	})

	t.Run("a dead instance that owns nothing is forgotten and stays dead", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		ctx := t.Context()
		register(t, s, "live")
		register(t, s, "gone")
		createOwned(t, s, "done", "gone", 0)
		ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "done", Status: store.StatusSuccess,
			Output: []byte(`1`), Owner: "gone", Now: at(1)})
		is.NoErr(err) // the owner sets the outcome
		is.True(ok)   // of its PENDING workflow
		stop(t, s, "gone")

		is.Equal(len(orphans(t, s)), 0)           // a finished workflow is no orphan
		is.Equal(len(orphans(t, s)), 0)           // and a second call, after the forgetting, works too
		is.Equal(liveIDs(t, s), []string{"live"}) // forgotten is not live

		// Forgotten, it is still dead to every method.
		is.True(errors.Is(s.Heartbeat(ctx, "gone"), store.ErrInstanceLost)) // its heartbeat is refused
		is.NoErr(s.StopInstance(ctx, "gone"))                               // stopping it again changes nothing
		is.Equal(liveIDs(t, s), []string{"live"})                           // not even after that stop
		p := params("new", 2)
		p.Owner = "gone"
		_, _, err = s.CreateWorkflow(ctx, p)
		is.True(errors.Is(err, store.ErrInstanceLost)) // it is given no new workflow
		err = s.RecordStep(ctx, store.StepParams{Owner: "gone", Step: step("done", 1, "late", `1`)})
		is.True(errors.Is(err, store.ErrNotOwner)) // its late writes are refused
		is.Equal(len(steps(t, s, "done")), 0)      // and record nothing
	})

	t.Run("a dead instance's workflows stay orphans until adopted", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "live")
		register(t, s, "gone")
		createOwned(t, s, "wf-1", "gone", 0)
		createOwned(t, s, "wf-2", "gone", 1)
		stop(t, s, "gone")

		is.Equal(orphans(t, s), []string{"wf-1", "wf-2"}) // both orphaned
		is.Equal(orphans(t, s), []string{"wf-1", "wf-2"}) // and still, the next time: the dead owner is remembered
		adopt(t, s, "wf-1", "gone", "live", -1, 2)
		is.Equal(orphans(t, s), []string{"wf-2"}) // an adopted workflow is no orphan
		is.Equal(orphans(t, s), []string{"wf-2"}) // the other one is, while nobody adopts it
		adopt(t, s, "wf-2", "gone", "live", -1, 3)
		is.Equal(len(orphans(t, s)), 0) // all adopted
		is.Equal(len(orphans(t, s)), 0) // and the dead instance, owning nothing, may be forgotten
	})
}
