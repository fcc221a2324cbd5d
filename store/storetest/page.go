package storetest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// A listing that may be continued (one with a Limit, or given After)
// may end early, before rows whose insertion has not settled: on
// PostgreSQL, rows inserted after a transaction that is still open
// anywhere on the server, which could yet commit rows before them. The
// next listing has them. So the cases here list again, for a while,
// until they get what they expect: a listing that is wrong for good
// still fails, only later.

// settle is how long a case lists again.
const settle = 5 * time.Second

// listIDs lists the IDs p selects, again until they are want or settle
// has passed.
func listIDs(t *testing.T, s store.Store, p store.ListParams, want []string) []string {
	is := is.New(t)
	deadline := time.Now().Add(settle)
	for {
		wfs, err := s.ListWorkflows(t.Context(), p)
		is.NoErr(err) // list
		if got := ids(wfs); slices.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// page lists what comes after position after, as p says.
func page(t *testing.T, s store.Store, p store.ListParams, after string) []store.Workflow {
	is := is.New(t)
	p.After = after
	wfs, err := s.ListWorkflows(t.Context(), p)
	is.NoErr(err) // list a page
	return wfs
}

// pages lists the pages of p, which has a Limit, from position after on,
// until it has listed n rows and then a page with fewer than p.Limit, or
// settle has passed.
func pages(t *testing.T, s store.Store, p store.ListParams, after string, n int) []store.Workflow {
	var out []store.Workflow
	deadline := time.Now().Add(settle)
	for {
		wfs := page(t, s, p, after)
		out = append(out, wfs...)
		if len(wfs) > 0 {
			after = wfs[len(wfs)-1].Position
		}
		if len(wfs) == p.Limit {
			continue
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testPaging(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("pages list every row once, in order", func(t *testing.T) {
		s := newStore(t)
		seedList(t, s)
		all := []string{"order-2", "refund-1", "order-1", "order_9", "zürich-1", "zurich-1", "orders", "order-3"}
		for _, tt := range []struct {
			name string
			p    store.ListParams
			want []string
		}{
			{"ascending", store.ListParams{Limit: 3}, all},
			{"descending", store.ListParams{Limit: 3, Descending: true}, reversed(all)},
			{"filtered", store.ListParams{Limit: 2, Statuses: []store.Status{store.StatusPending}},
				[]string{"order-2", "order_9", "zürich-1", "orders", "order-3"}},
			{"filtered descending", store.ListParams{Limit: 2, Name: "Ship", Descending: true, NoPayloads: true},
				[]string{"order-3", "order_9", "order-1", "order-2"}},
			{"pages of one", store.ListParams{Limit: 1}, all},
		} {
			t.Run(tt.name, func(t *testing.T) {
				is := is.New(t)
				is.Equal(ids(pages(t, s, tt.p, "", len(tt.want))), tt.want) // every row once, in order
			})
		}
	})

	t.Run("after a row, without a limit", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		seedList(t, s)
		first, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err) // list
		rest := listIDs(t, s, store.ListParams{After: first[3].Position}, []string{"zürich-1", "zurich-1", "orders", "order-3"})
		is.Equal(rest, []string{"zürich-1", "zurich-1", "orders", "order-3"}) // the rows after the fourth
		back := listIDs(t, s, store.ListParams{After: first[3].Position, Descending: true}, []string{"order-1", "refund-1", "order-2"})
		is.Equal(back, []string{"order-1", "refund-1", "order-2"}) // the rows before it, newest first
	})

	t.Run("rows inserted between pages", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		seedList(t, s)
		all, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err) // list
		p := store.ListParams{Limit: 3}
		create(t, s, params("late-1", 0)) // created earlier by the clock: the clock never reorders
		second := pages(t, s, p, all[2].Position, 6)
		create(t, s, params("late-2", 50))
		third := pages(t, s, p, second[len(second)-1].Position, 1)
		is.Equal(ids(append(second, third...)), []string{"order_9", "zürich-1", "zurich-1", "orders", "order-3",
			"late-1", "late-2"}) // new rows come after the last, each once

		desc := store.ListParams{Limit: 4, Descending: true}
		top := page(t, s, desc, "")
		create(t, s, params("late-3", 60))
		got := ids(top)
		for after := top; len(after) == desc.Limit; {
			after = page(t, s, desc, after[len(after)-1].Position)
			got = append(got, ids(after)...)
		}
		is.Equal(got, []string{"late-2", "late-1", "order-3", "orders", "zurich-1", "zürich-1", "order_9",
			"order-1", "refund-1", "order-2"}) // a descending listing goes on from where it was
	})

	t.Run("a deleted newest row keeps its place", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for i, id := range []string{"a", "b", "c", "d"} {
			create(t, s, params(id, i))
		}
		first, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err) // list
		n, err := s.DeleteWorkflows(t.Context(), store.DeleteParams{IDs: []string{"c", "d"}})
		is.NoErr(err)  // delete the newest rows
		is.Equal(n, 2) // both
		create(t, s, params("e", 5))
		create(t, s, params("f", 6))
		want := []string{"e", "f"}
		is.Equal(listIDs(t, s, store.ListParams{After: first[3].Position}, want), want) // rows inserted after the delete come after its place
		is.Equal(listIDs(t, s, store.ListParams{After: first[2].Position}, want), want) // and after every deleted row's
	})

	t.Run("positions are stable under concurrent inserts", func(t *testing.T) {
		testConcurrentPages(t, newStore(t))
	})
}

// testConcurrentPages creates 10,000 workflows from 8 goroutines while it
// lists them page by page: each is listed once, each goroutine's in the
// order it created them, and the pages read together are the listing of
// them all.
func testConcurrentPages(t *testing.T, s store.Store) {
	writers, perWriter := 8, 1250
	if testing.Short() {
		perWriter = 125
	}
	is := is.New(t)
	total := writers * perWriter
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Every fourth at one time: ties of the clock.
				p := params(fmt.Sprintf("w%d-%05d", w, i), i/4)
				if _, _, err := s.CreateWorkflow(t.Context(), p); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}

	var done atomic.Bool
	go func() { wg.Wait(); done.Store(true) }()
	p := store.ListParams{Limit: 100, NoPayloads: true}
	var listed []store.Workflow
	deadline := time.Now().Add(time.Minute)
	for len(listed) < total && time.Now().Before(deadline) {
		if done.Load() && deadline.Sub(time.Now()) > settle {
			deadline = time.Now().Add(settle) // what is not listed by then was skipped
		}
		after := ""
		if len(listed) > 0 {
			after = listed[len(listed)-1].Position
		}
		wfs := page(t, s, p, after)
		listed = append(listed, wfs...)
		if len(wfs) < p.Limit {
			time.Sleep(time.Millisecond) // caught up with the writers, or held back: see listIDs
		}
	}
	wg.Wait()
	for _, err := range errs {
		is.NoErr(err) // every create succeeds
	}

	got := ids(listed)
	is.Equal(len(got), total) // every workflow is listed
	seen := map[string]bool{}
	next := make([]int, writers)
	for _, id := range got {
		is.True(!seen[id]) // once
		seen[id] = true
		var w, i int
		_, err := fmt.Sscanf(id, "w%d-%05d", &w, &i)
		is.NoErr(err)        // one of ours
		is.Equal(i, next[w]) // in the order its goroutine created it
		next[w] = i + 1
	}
	whole, err := s.ListWorkflows(t.Context(), store.ListParams{NoPayloads: true})
	is.NoErr(err)                                                                                                // list them all at once
	is.Equal(ids(whole), got)                                                                                    // in the same order as the pages
	is.True(slices.EqualFunc(whole, listed, func(a, b store.Workflow) bool { return a.Position == b.Position })) // at the same positions
}

func reversed(ss []string) []string {
	out := slices.Clone(ss)
	slices.Reverse(out)
	return out
}
