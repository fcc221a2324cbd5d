package storetest

import (
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// listSeed is created in this order, each workflow at at(n). Neither the
// order of creation nor the order of the IDs is the order of the times, so
// only a listing ordered by creation time lists them oldest first. The IDs
// hold '_', case and non-ASCII letters to catch a prefix filter built on
// LIKE or on byte counts.
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
	tests := []struct {
		name string
		p    store.ListParams
		want []string
	}{
		{"no filter lists all oldest first", store.ListParams{},
			[]string{"order_9", "refund-1", "zürich-1", "order-2", "zurich-1", "order-1", "orders", "order-3"}},
		{"status PENDING", store.ListParams{Statuses: []store.Status{pending}},
			[]string{"order_9", "zürich-1", "order-2", "orders", "order-3"}},
		{"status SUCCESS", store.ListParams{Statuses: []store.Status{success}},
			[]string{"refund-1", "zurich-1", "order-1"}},
		{"statuses SUCCESS or PENDING", store.ListParams{Statuses: []store.Status{success, pending}},
			[]string{"order_9", "refund-1", "zürich-1", "order-2", "zurich-1", "order-1", "orders", "order-3"}},
		{"status nobody has", store.ListParams{Statuses: []store.Status{store.StatusError}},
			[]string{}},
		{"executor", store.ListParams{ExecutorID: "b"},
			[]string{"order_9", "refund-1", "orders"}},
		{"application version", store.ListParams{ApplicationVersion: "v2"},
			[]string{"order_9", "order-1", "order-3"}},
		{"name", store.ListParams{Name: "Ship"},
			[]string{"order_9", "order-2", "order-1", "order-3"}},
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
		{"limit keeps the oldest", store.ListParams{Limit: 3},
			[]string{"order_9", "refund-1", "zürich-1"}},
		{"limit after filter", store.ListParams{Statuses: []store.Status{pending}, Limit: 2},
			[]string{"order_9", "zürich-1"}},
		{"limit above count", store.ListParams{Name: "Audit", Limit: 10},
			[]string{"orders"}},
		{"pending workflows listed by executor and application version",
			store.ListParams{Statuses: []store.Status{pending}, ExecutorID: "a", ApplicationVersion: "v1"},
			[]string{"zürich-1", "order-2"}},
	}
	// Listing writes nothing, so the filters share one seeded store.
	t.Run("filters", func(t *testing.T) {
		s := newStore(t)
		seedList(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				is := is.New(t)
				wfs, err := s.ListWorkflows(t.Context(), tt.p)
				is.NoErr(err)               // list
				is.Equal(ids(wfs), tt.want) // listed IDs, oldest first
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
			is.NoErr(err)                 // get
			is.Equal(norm(wf), norm(got)) // a listed row is the whole row
		}
	})

	t.Run("empty store lists nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		wfs, err := s.ListWorkflows(t.Context(), store.ListParams{})
		is.NoErr(err)         // list
		is.Equal(len(wfs), 0) // nothing stored
	})
}
