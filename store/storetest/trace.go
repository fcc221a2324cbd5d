package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// traceparent is a W3C traceparent as the engine stores it.
const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// testTraceContext checks that the trace context given at creation is
// kept with the workflow and read back by every read that returns it, so
// that a run in any process continues the trace, and that a workflow
// created without one has none.
func testTraceContext(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("create keeps it", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := params("traced", 0)
		p.TraceContext = traceparent
		wf := create(t, s, p)
		is.Equal(wf.TraceContext, traceparent) // returned by the create
		got, err := s.GetWorkflow(t.Context(), "traced")
		is.NoErr(err)
		is.Equal(got.TraceContext, traceparent) // read back
		again, created, err := s.CreateWorkflow(t.Context(), params("traced", 1))
		is.NoErr(err)
		is.True(!created)                         // the ID exists
		is.Equal(again.TraceContext, traceparent) // the existing row, unchanged
		listed, err := s.ListWorkflows(t.Context(), store.ListParams{IDs: []string{"traced"}})
		is.NoErr(err)
		is.Equal(len(listed), 1)
		is.Equal(listed[0].TraceContext, traceparent) // listed
		rec, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{WorkflowID: "traced", MaxAttempts: -1, Now: at(2)})
		is.NoErr(err)
		is.Equal(rec.RecoveryAttempts, 2)       // recovered
		is.Equal(rec.TraceContext, traceparent) // the recovered run continues the trace
	})

	t.Run("none when untraced", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("plain", 0))
		got, err := s.GetWorkflow(t.Context(), "plain")
		is.NoErr(err)
		is.Equal(got.TraceContext, "") // nothing stored
	})

	t.Run("concurrent creates keep their own", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				p := params(fmt.Sprintf("wf-%d", i), 0)
				if i%2 == 0 {
					p.TraceContext = fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
				}
				_, _, errs[i] = s.CreateWorkflow(t.Context(), p)
			})
		}
		wg.Wait()
		for i := range n {
			is.NoErr(errs[i]) // create
			got, err := s.GetWorkflow(t.Context(), fmt.Sprintf("wf-%d", i))
			is.NoErr(err)
			want := ""
			if i%2 == 0 {
				want = fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
			}
			is.Equal(got.TraceContext, want) // each workflow has its own, or none
		}
	})

	t.Run("enqueue keeps it to the claim", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := enqueueParams("queued", "q", 0)
		p.TraceContext = traceparent
		wf := enqueue(t, s, p)
		is.Equal(wf.TraceContext, traceparent) // returned by the enqueue
		claimed, err := s.Claim(t.Context(), claimParams("q", 1, 1))
		is.NoErr(err)
		is.Equal(len(claimed), 1)
		is.Equal(claimed[0].TraceContext, traceparent) // the worker that claims it continues the trace
	})
}
