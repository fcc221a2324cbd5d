package postgres_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// planRows is how many workflows the plan tests hold: enough that the
// planner, with statistics, prefers an index to reading the table.
const planRows = 50_000

// planSchema returns a pool on a new schema holding planRows workflows,
// analyzed: one in a hundred ERROR, one PENDING, one ENQUEUED, the rest
// SUCCESS; 50 names; a third in one of five queues; a tenth children of
// the workflow before them. Each row has an insert_xid of its own, as if
// each was inserted by a transaction of its own.
func planSchema(t *testing.T) *sql.DB {
	is := is.New(t)
	schema := newSchema(t)
	open(t, withParam(testURL(t), "schema", schema)) // migrated
	db := schemaDB(t, schema)
	_, err := db.Exec(`INSERT INTO workflows (insert_xid, id, name, status, executor_id, app_version, parent_id, queue_name,
			created_at, updated_at, completed_at)
		SELECT g, 'wf-' || lpad(g::text, 7, '0'), 'name-' || g % 50,
			CASE g % 100 WHEN 0 THEN 'ERROR' WHEN 1 THEN 'PENDING' WHEN 2 THEN 'ENQUEUED' ELSE 'SUCCESS' END,
			'exec', 'v1', CASE WHEN g % 10 = 0 THEN 'wf-' || lpad((g - 1)::text, 7, '0') ELSE '' END,
			CASE WHEN g % 3 = 0 OR g % 100 = 2 THEN 'q-' || g % 5 ELSE '' END,
			g, g, CASE WHEN g % 100 IN (1, 2) THEN 0 ELSE g END
		FROM generate_series(1, $1) AS g`, planRows)
	is.NoErr(err) // fill the table
	_, err = db.Exec(`ANALYZE`)
	is.NoErr(err) // and give the planner its statistics
	return db
}

// explain returns the plan of q.
func explain(t *testing.T, db *sql.DB, q string, args ...any) string {
	is := is.New(t)
	rows, err := db.Query("EXPLAIN "+q, args...)
	is.NoErr(err) // explain
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		is.NoErr(rows.Scan(&line)) // a line of the plan
		lines = append(lines, line)
	}
	is.NoErr(rows.Err()) // the whole plan
	return strings.Join(lines, "\n")
}

// Listings by the filters used most read their index in listing order,
// and stop after a page: no sort of what the filter selects.
func TestListsUseTheirIndexes(t *testing.T) {
	db := planSchema(t)
	var first string
	is := is.New(t)
	is.NoErr(db.QueryRow(`SELECT insert_xid || '.' || seq FROM workflows WHERE id = 'wf-0025000'`).Scan(&first)) // a position in the middle
	tests := []struct {
		name  string
		p     store.ListParams
		index string
	}{
		{"no filter", store.ListParams{Limit: 100}, "workflows_position"},
		{"no filter, after a position", store.ListParams{Limit: 100, After: first}, "workflows_position"},
		{"no filter, descending", store.ListParams{Limit: 100, Descending: true, After: first}, "Index Scan Backward using workflows_position"},
		{"status", store.ListParams{Statuses: []store.Status{store.StatusError}, Limit: 100}, "workflows_status"},
		{"status, after a position", store.ListParams{Statuses: []store.Status{store.StatusError}, Limit: 100, After: first},
			"workflows_status"},
		{"status, descending", store.ListParams{Statuses: []store.Status{store.StatusError}, Limit: 100, Descending: true},
			"Index Scan Backward using workflows_status"},
		{"name", store.ListParams{Name: "name-7", Limit: 100, After: first}, "workflows_name"},
		{"queue", store.ListParams{Queue: "q-3", Limit: 100, After: first}, "workflows_queue"},
		{"parent", store.ListParams{ParentID: "wf-0000009", Limit: 100}, "workflows_parent"},
		{"ID prefix", store.ListParams{IDPrefix: "wf-00123", Limit: 100}, "workflows_pkey"},
		{"IDs", store.ListParams{IDs: []string{"wf-0000007", "wf-0012345"}}, "workflows_pkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			q, args, err := postgres.ListQuery(tt.p)
			is.NoErr(err) // build the query
			plan := explain(t, db, q, args...)
			t.Log(plan)
			is.True(strings.Contains(plan, tt.index)) // the index
			if tt.name != "ID prefix" && tt.name != "IDs" {
				is.True(!strings.Contains(plan, "Sort")) // read in order, not sorted
			}
		})
	}
}

// Garbage collection reads finished rows oldest first and stops after a
// batch.
func TestGCUsesAnIndex(t *testing.T) {
	db := planSchema(t)
	for _, p := range []store.GCParams{
		{CompletedBefore: time.UnixMilli(40_000), Batch: 100},
		{KeepNewest: 1000, Batch: 100},
	} {
		is := is.New(t)
		q, args := postgres.GCQuery(p)
		plan := explain(t, db, q, args...)
		t.Log(plan)
		is.True(strings.Contains(plan, "Index"))     // an index, not the table
		is.True(!strings.Contains(plan, "Seq Scan")) // not the table
	}
}
