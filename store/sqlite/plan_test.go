package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The queries that run often must use their index, whatever the table
// holds: recovery's list of an executor's PENDING workflows, and the
// look for workflows other processes cancelled.
func TestHotListsUseTheirIndexes(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "x.sqlite")
	openURL(t, "sqlite:"+path) // migrated
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	for q, index := range map[string]string{
		// As ListWorkflows writes them: see its Statuses.
		`SELECT id FROM workflows WHERE status = 'PENDING' AND executor_id = ? AND app_version = ? ORDER BY created_at, id`:   "workflows_pending",
		`SELECT id FROM workflows WHERE status = 'CANCELLED' AND executor_id = ? AND updated_at >= ? ORDER BY created_at, id`: "workflows_cancelled",
	} {
		rows, err := db.Query("EXPLAIN QUERY PLAN "+q, "local", "v1")
		is.NoErr(err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			is.NoErr(rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		is.True(strings.Contains(strings.Join(plan, "; "), "USING INDEX "+index)) // the planner uses the partial index
	}
}
