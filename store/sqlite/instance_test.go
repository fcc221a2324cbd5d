package sqlite_test

import (
	"database/sql"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// Orphans forgets the dead instances that own nothing even when it finds
// orphans: some stay orphans for good (a version or a name no live engine
// runs), and the dead would pile up behind them. The store.Store interface
// cannot show a dead instance, so this looks at the table itself.
func TestOrphansForgetsDeadInstancesBesideOrphans(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s := setup(t)
	for _, id := range []string{"live", "owns-orphan", "owns-nothing"} {
		_, err := s.RegisterInstance(ctx, store.InstanceParams{ID: id})
		is.NoErr(err) // register
	}
	_, _, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "stuck", Name: "f", Owner: "owns-orphan"})
	is.NoErr(err)                                 // a workflow nobody will adopt
	is.NoErr(s.StopInstance(ctx, "owns-orphan"))  // stop
	is.NoErr(s.StopInstance(ctx, "owns-nothing")) // stop

	orphans, err := s.Orphans(ctx, store.OrphanParams{})
	is.NoErr(err)                                                       // list orphans
	is.Equal(len(orphans), 1)                                           // the stuck workflow
	is.Equal(instanceIDs(t, s.Path()), []string{"live", "owns-orphan"}) // the dead instance that owns nothing is forgotten, the other kept
}

// instanceIDs reads the IDs in the instances table of the file at path,
// dead or live, through a connection of its own.
func instanceIDs(t *testing.T, path string) []string {
	is := is.New(t)
	db, err := sql.Open("sqlite", path)
	is.NoErr(err) // open a second connection
	defer db.Close()
	rows, err := db.Query("SELECT id FROM instances ORDER BY id")
	is.NoErr(err) // read instances
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		is.NoErr(rows.Scan(&id)) // scan an ID
		ids = append(ids, id)
	}
	is.NoErr(rows.Err()) // read every row
	return ids
}
