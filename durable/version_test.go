package durable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

func version(v string) func(*durable.Config) {
	return func(c *durable.Config) { c.ApplicationVersion = v }
}

func TestRecoveryWaitsForAnEngineOfTheWorkflowsVersion(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	// Bounded: a workflow left unrun fails the test rather than hang it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A v1 process records two steps, then dies.
	e1 := v.crashing(3, version("v1"))
	wf1 := register(t, e1, "five", fiveSteps(&calls))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf1.Run(ctx, "x", durable.WithID("w")); return err })
	is.True(errors.Is(err, durable.ErrShutdown)) // the crash interrupted it
	// A process that died before recording a version's worth of anything.
	v.orphan("unversioned", "five", `"u"`, func(p *store.WorkflowCreateParams) { p.ApplicationVersion = "" })

	// A v2 process adopts only what it may run: Launch adopts before it
	// returns.
	e2 := v.engine(version("v2"))
	wf2 := register(t, e2, "five", fiveSteps(&calls))
	launch(t, e2)
	h, err := wf2.Retrieve(ctx, "unversioned")
	is.NoErr(err)
	got, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "u+s1+s2+s3+s4+s5") // a workflow of no version runs on any
	w := v.workflow("w")
	is.Equal(w.Status, store.StatusPending) // v1's workflow is left to v1
	is.Equal(w.RecoveryAttempts, 1)         // not even counted as recovered
	is.Equal(len(v.steps("w")), 2)          // and nothing ran
	is.Equal(calls.get("s3"), 2)            // (s3 ran in the crash and for "unversioned" only)

	// A v1 process recovers it.
	e3 := v.engine(version("v1"))
	wf3 := register(t, e3, "five", fiveSteps(&calls))
	launch(t, e3)
	h, err = wf3.Retrieve(ctx, "w")
	is.NoErr(err)
	got, err = h.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "x+s1+s2+s3+s4+s5") // finished by its own version
	is.Equal(v.workflow("w").RecoveryAttempts, 2)
	is.Equal(calls.get("s1"), 2) // its recorded steps did not run again
}

func TestQueueDequeuesOnlyItsVersionOrNone(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	// Bounded: a workflow left unrun fails the test rather than hang it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	echo := func(ctx context.Context, s string) (string, error) { return s, nil }

	e2 := v.engine(version("v2"))
	register(t, e2, "echo", echo)
	registerQueue(t, e2, queue.Queue{Name: "work"})
	launch(t, e2)
	pinned, err := durable.Enqueue[string](ctx, e2, "work", "echo", "pinned", durable.WithApplicationVersion("v1"),
		durable.WithID("pinned"))
	is.NoErr(err)
	unpinned, err := durable.Enqueue[string](ctx, e2, "work", "echo", "unpinned", durable.WithID("unpinned"))
	is.NoErr(err)

	got, err := unpinned.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "unpinned")                                 // the v2 engine ran the unpinned one
	is.Equal(v.workflow("unpinned").ApplicationVersion, "v2") // Enqueue pinned none: stamped by the claim
	// The claim that took "unpinned" saw "pinned", enqueued before it,
	// and left it.
	p := v.workflow("pinned")
	is.Equal(p.Status, store.StatusEnqueued) // v1's stays in the queue
	is.Equal(p.RecoveryAttempts, 0)          // never claimed

	e1 := v.engine(version("v1"))
	register(t, e1, "echo", echo)
	registerQueue(t, e1, queue.Queue{Name: "work"})
	launch(t, e1)
	got, err = pinned.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "pinned") // a v1 engine runs it
	ins, err := v.open().Instances(ctx)
	is.NoErr(err)
	var v1 string
	for _, in := range ins {
		if in.ApplicationVersion == "v1" {
			v1 = in.ID
		}
	}
	is.Equal(v.workflow("pinned").Owner, v1) // and only a v1 engine
}
