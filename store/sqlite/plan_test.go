package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/sqlite"
)

// plan returns the lines of the query plan of q.
func plan(t *testing.T, db *sql.DB, q string, args ...any) string {
	is := is.New(t)
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	is.NoErr(err) // explain
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		is.NoErr(rows.Scan(&id, &parent, &unused, &detail)) // read the plan
		lines = append(lines, detail)
	}
	is.NoErr(rows.Err()) // the whole plan
	return strings.Join(lines, "; ")
}

// planDB opens a migrated file with a connection of the test's own.
func planDB(t *testing.T) *sql.DB {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "x.sqlite")
	openURL(t, "sqlite:"+path) // migrated
	db, err := sql.Open("sqlite", path)
	is.NoErr(err) // open
	t.Cleanup(func() { db.Close() })
	return db
}

// The queries that run often must use their index, whatever the table
// holds: adoption's look for PENDING workflows of dead instances, the
// claim's and the enqueue's, and a delete's of a workflow's messages. The
// statistics migration 0006 writes keep the planner from the status
// index, which looks as selective as any without them.
func TestHotQueriesUseTheirIndexes(t *testing.T) {
	db := planDB(t)
	tests := []struct {
		name, q string
		args    []any
		index   string
	}{
		{"orphans", `SELECT id FROM workflows WHERE status = 'PENDING'
			AND owner IN (SELECT '' UNION ALL SELECT id FROM instances WHERE dead = 1) ORDER BY created_at, id`,
			nil, "workflows_owner"}, // as Orphans writes it
		{"dead to forget", `SELECT count(*) FROM instances WHERE dead = 1 AND NOT EXISTS
			(SELECT 1 FROM workflows WHERE status = 'PENDING' AND owner = instances.id)`,
			nil, "workflows_owner"}, // as Orphans looks for dead instances to forget, on every call
		{"claimable", `SELECT id FROM workflows WHERE ` + sqlite.ReadyWhere + ` ORDER BY priority, created_at, rowid LIMIT ?`,
			[]any{"q", 0, "v1", `["f"]`, 10}, "workflows_queue_ready"},
		{"running", `SELECT count(*) FROM workflows WHERE status = 'PENDING' AND queue_name = ?`,
			[]any{"q"}, "workflows_queue_running"},
		{"started", `SELECT count(*) FROM workflows WHERE queue_name = ? AND started_at != 0 AND started_at > ?`,
			[]any{"q", 0}, "workflows_queue_started"},
		{"deduplication ID holder", `SELECT id FROM workflows WHERE ` + sqlite.DedupHolder,
			[]any{"q", "d"}, "workflows_queue_dedup"},
		{"queue depths: enqueued", sqlite.QueueDepths, nil, "workflows_queue_ready"},
		{"queue depths: running", sqlite.QueueDepths, nil, "workflows_queue_running"},
		{"messages of a deleted workflow", `SELECT seq FROM messages WHERE dest_id = ?`,
			[]any{"wf"}, "messages_dest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			p := plan(t, db, tt.q, tt.args...)
			t.Log(p)
			is.True(strings.Contains(p, "INDEX "+tt.index)) // the planner uses the index, covering or not
		})
	}
}

// Listings by the filters used most read their index in insertion order:
// no sort of what the filter selects, so a page costs its rows.
func TestListsUseTheirIndexes(t *testing.T) {
	db := planDB(t)
	since := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name   string
		p      store.ListParams
		index  string // "" for the table itself, in rowid order
		sorted bool   // read in order: no temporary b-tree
	}{
		{"no filter", store.ListParams{Limit: 100}, "", true},
		{"no filter, after a position", store.ListParams{Limit: 100, After: "42"}, "INTEGER PRIMARY KEY", true},
		{"no filter, descending", store.ListParams{Limit: 100, Descending: true, After: "42"}, "INTEGER PRIMARY KEY", true},
		{"status", store.ListParams{Statuses: []store.Status{store.StatusError}, Limit: 100}, "workflows_status", true},
		{"status, after a position", store.ListParams{Statuses: []store.Status{store.StatusSuccess}, Limit: 100, After: "42"},
			"workflows_status", true},
		{"status, descending", store.ListParams{Statuses: []store.Status{store.StatusSuccess}, Limit: 100, Descending: true},
			"workflows_status", true},
		{"statuses", store.ListParams{Statuses: []store.Status{store.StatusError, store.StatusCancelled}, Limit: 100},
			"workflows_status", false},
		{"name", store.ListParams{Name: "main.Transfer", Limit: 100, After: "42"}, "workflows_name", true},
		{"queue", store.ListParams{Queue: "mail", Limit: 100, After: "42"}, "workflows_queue", true},
		{"parent", store.ListParams{ParentID: "p-1"}, "workflows_parent", true},
		{"ID prefix", store.ListParams{IDPrefix: "order-", Limit: 100}, "sqlite_autoindex_workflows_1", false},
		// As the engine lists them.
		{"cancelled by others", store.ListParams{Statuses: []store.Status{store.StatusCancelled}, Owner: "inst",
			UpdatedAfter: since}, "workflows_cancelled", false},
		{"children to cancel", store.ListParams{ParentID: "p-1",
			Statuses: []store.Status{store.StatusPending, store.StatusEnqueued}}, "workflows_parent", true},
		{"held by a dispatcher", store.ListParams{Statuses: []store.Status{store.StatusPending}, Queue: "mail",
			Owner: "inst"}, "workflows_owner", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			q, args, err := sqlite.ListQuery(tt.p)
			is.NoErr(err) // build the query
			p := plan(t, db, q, args...)
			t.Log(p)
			if tt.index == "" {
				is.True(strings.HasPrefix(p, "SCAN workflows")) // the table, in rowid order
			} else {
				is.True(strings.Contains(p, tt.index)) // the index
			}
			if tt.sorted {
				is.True(!strings.Contains(p, "TEMP B-TREE")) // read in order, not sorted
			}
		})
	}
}

// Garbage collection walks the table oldest first and stops after a
// batch: it never sorts every finished row.
func TestGCWalksInOrder(t *testing.T) {
	db := planDB(t)
	for _, p := range []store.GCParams{
		{CompletedBefore: time.UnixMilli(1_700_000_000_000), Batch: 100},
		{KeepNewest: 1000, Batch: 100},
		{CompletedBefore: time.UnixMilli(1_700_000_000_000), KeepNewest: 1000, Batch: 100},
	} {
		is := is.New(t)
		q, args := sqlite.GCQuery(p)
		pl := plan(t, db, q, args...)
		t.Log(pl)
		is.True(!strings.Contains(pl, "TEMP B-TREE")) // no sort
	}
}
