package storetest

import (
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// listSeed is created in this order, each workflow at at(n). Neither the
// order of the times nor the order of the IDs is the order of creation, so
// only a listing in insertion order lists them as the cases expect: a time
// never reorders a listing. The IDs hold '_', case and non-ASCII letters to
// catch a prefix filter built on LIKE or on byte counts.
var listSeed = []struct {
	id, name, executor, version string
	n                           int
	done                        bool
}{
	{"order-2", "Ship", "a", "v1", 4, false},
	{"refund-1", "Refund", "b", "v1", 2, true},
	{"order-1", "Ship", "a", "v2", 6, true},
	{"order_9", "Ship", "b", "v2", 1, false},
	{"zürich-1", "Transfer", "a", "v1", 3, false},
	{"zurich-1", "Transfer", "a", "v1", 5, true},
	{"orders", "Audit", "b", "v1", 7, false},
	{"order-3", "Ship", "a", "v2", 8, false},
}

// seedList creates listSeed in s and finishes the workflows marked done.
func seedList(t *testing.T, s store.Store) {
	for _, w := range listSeed {
		p := params(w.id, w.n)
		p.Name, p.ExecutorID, p.ApplicationVersion = w.name, w.executor, w.version
		create(t, s, p)
	}
	for _, w := range listSeed {
		if w.done {
			finish(t, s, w.id, 20+w.n)
		}
	}
}

func testListWorkflows(t *testing.T, newStore func(t *testing.T) store.Store) {
	pending, success := store.StatusPending, store.StatusSuccess
	all := []string{"order-2", "refund-1", "order-1", "order_9", "zürich-1", "zurich-1", "orders", "order-3"}
	tests := []struct {
		name string
		p    store.ListParams
		want []string
	}{
		{"no filter lists all in insertion order", store.ListParams{}, all},
		{"status PENDING", store.ListParams{Statuses: []store.Status{pending}},
			[]string{"order-2", "order_9", "zürich-1", "orders", "order-3"}},
		{"status SUCCESS", store.ListParams{Statuses: []store.Status{success}},
			[]string{"refund-1", "order-1", "zurich-1"}},
		{"statuses SUCCESS or PENDING", store.ListParams{Statuses: []store.Status{success, pending}}, all},
		{"status nobody has", store.ListParams{Statuses: []store.Status{store.StatusError}},
			[]string{}},
		{"IDs, in insertion order, unknown ones skipped", store.ListParams{IDs: []string{"order-3", "nope", "refund-1"}},
			[]string{"refund-1", "order-3"}},
		{"executor", store.ListParams{ExecutorID: "b"},
			[]string{"refund-1", "order_9", "orders"}},
		{"application version", store.ListParams{ApplicationVersion: "v2"},
			[]string{"order-1", "order_9", "order-3"}},
		{"name", store.ListParams{Name: "Ship"},
			[]string{"order-2", "order-1", "order_9", "order-3"}},
		{"name matches exactly", store.ListParams{Name: "ship"},
			[]string{}},
		{"ID prefix", store.ListParams{IDPrefix: "order-"},
			[]string{"order-2", "order-1", "order-3"}},
		{"ID prefix with underscore", store.ListParams{IDPrefix: "order_"},
			[]string{"order_9"}},
		{"ID prefix is case-sensitive", store.ListParams{IDPrefix: "ORDER"},
			[]string{}},
		{"ID prefix with non-ASCII letter", store.ListParams{IDPrefix: "zürich-"},
			[]string{"zürich-1"}},
		{"ID prefix that is a whole ID", store.ListParams{IDPrefix: "order-2"},
			[]string{"order-2"}},
		{"created at or after", store.ListParams{CreatedAfter: at(6)},
			[]string{"order-1", "orders", "order-3"}},
		{"created before", store.ListParams{CreatedBefore: at(3)},
			[]string{"refund-1", "order_9"}},
		{"created in a range", store.ListParams{CreatedAfter: at(2), CreatedBefore: at(5)},
			[]string{"order-2", "refund-1", "zürich-1"}},
		{"updated at or after", store.ListParams{UpdatedAfter: at(25)},
			[]string{"order-1", "zurich-1"}},
		{"updated before", store.ListParams{UpdatedBefore: at(20)},
			[]string{"order-2", "order_9", "zürich-1", "orders", "order-3"}},
		{"limit keeps the first inserted", store.ListParams{Limit: 3},
			[]string{"order-2", "refund-1", "order-1"}},
		{"limit after filter", store.ListParams{Statuses: []store.Status{pending}, Limit: 2},
			[]string{"order-2", "order_9"}},
		{"limit above count", store.ListParams{Name: "Audit", Limit: 10},
			[]string{"orders"}},
		{"descending", store.ListParams{Descending: true},
			[]string{"order-3", "orders", "zurich-1", "zürich-1", "order_9", "order-1", "refund-1", "order-2"}},
		{"descending limit keeps the last inserted", store.ListParams{Descending: true, Limit: 2},
			[]string{"order-3", "orders"}},
		{"descending after filter", store.ListParams{Statuses: []store.Status{success}, Descending: true},
			[]string{"zurich-1", "order-1", "refund-1"}},
		{"pending workflows listed by executor and application version",
			store.ListParams{Statuses: []store.Status{pending}, ExecutorID: "a", ApplicationVersion: "v1"},
			[]string{"order-2", "zürich-1"}},
	}
	// Listing writes nothing, so the filters share one seeded store.
	t.Run("filters", func(t *testing.T) {
		s := newStore(t)
		seedList(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				is := is.New(t)
				is.Equal(listIDs(t, s, tt.p, tt.want), tt.want) // listed IDs, in insertion order
			})
		}
	})

	t.Run("rows are complete", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		seedList(t, s)
		wfs, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err) // list
		for _, wf := range wfs {
			got, err := s.GetWorkflow(t.Context(), wf.ID)
			is.NoErr(err)                       // get
			is.Equal(norm(wf), norm(got))       // a listed row is the whole row
			is.True(wf.Position != "")          // with its position
			is.Equal(wf.Position, got.Position) // the same wherever the row is read
		}
	})

	t.Run("no payloads", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		seedList(t, s)
		full, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err) // list
		bare, err := s.ListWorkflows(t.Context(), store.ListParams{NoPayloads: true})
		is.NoErr(err)                    // list without payloads
		is.Equal(len(bare), len(full))   // the same rows
		is.True(len(full[1].Output) > 0) // the seed has payloads
		for i, wf := range bare {
			is.Equal(wf.Input, nil)           // no input
			is.Equal(wf.Output, nil)          // no output
			is.Equal(wf.Error, full[i].Error) // the error stays: a listing of failures shows it
			want := full[i]
			want.Input, want.Output = nil, nil
			is.Equal(norm(wf), norm(want))          // every other field
			is.Equal(wf.Position, full[i].Position) // and the position
		}
	})

	t.Run("queue and parent", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("root", 0))
		enqueue(t, s, enqueueParams("q-1", "mail", 1))
		child := params("child-1", 2)
		child.ParentID = "root"
		create(t, s, child)
		enqueue(t, s, enqueueParams("q-2", "sms", 3))
		queued := enqueueParams("child-2", "mail", 4)
		queued.ParentID = "root"
		enqueue(t, s, queued)
		for _, tt := range []struct {
			p    store.ListParams
			want []string
		}{
			{store.ListParams{Queue: "mail"}, []string{"q-1", "child-2"}},
			{store.ListParams{ParentID: "root"}, []string{"child-1", "child-2"}},
			{store.ListParams{ParentID: "root", Queue: "mail"}, []string{"child-2"}},
			{store.ListParams{Queue: "none"}, []string{}},
		} {
			wfs, err := s.ListWorkflows(t.Context(), tt.p)
			is.NoErr(err)               // list
			is.Equal(ids(wfs), tt.want) // by queue and by parent
		}
	})

	t.Run("unknown status", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		_, err := s.ListWorkflows(t.Context(), store.ListParams{Statuses: []store.Status{"DONE"}})
		is.True(err != nil) // a status that is not one of the constants
	})

	t.Run("empty store lists nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		wfs, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err)         // list
		is.Equal(len(wfs), 0) // nothing stored
	})
}
