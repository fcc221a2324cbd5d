package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The queries that run often must use their index, whatever the table
// holds: adoption's look for PENDING workflows of dead instances, and the
// look for workflows other processes cancelled.
func TestHotListsUseTheirIndexes(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "x.sqlite")
	openURL(t, "sqlite:"+path) // migrated
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	defer db.Close()
	for q, index := range map[string]string{
		// As Orphans writes it.
		`SELECT id FROM workflows WHERE status = 'PENDING'
			AND owner IN (SELECT '' UNION ALL SELECT id FROM instances WHERE dead = 1) ORDER BY created_at, id`: "workflows_owner",
		// As Orphans looks for dead instances to forget, on every call.
		`SELECT count(*) FROM instances WHERE dead = 1 AND NOT EXISTS
			(SELECT 1 FROM workflows WHERE status = 'PENDING' AND owner = instances.id)`: "workflows_owner",
		// As ListWorkflows writes it: see its Statuses.
		`SELECT id FROM workflows WHERE status = 'CANCELLED' AND owner = ? AND updated_at >= ? ORDER BY created_at, id`: "workflows_cancelled",
	} {
		rows, err := db.Query("EXPLAIN QUERY PLAN "+q, "instance", 0)
		is.NoErr(err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			is.NoErr(rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		is.True(strings.Contains(strings.Join(plan, "; "), "INDEX "+index)) // the planner uses the partial index, covering or not
	}
}
