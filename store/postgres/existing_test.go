package postgres_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

// schemaExists reports whether the test database has a schema.
func schemaExists(t *testing.T, schema string) bool {
	t.Helper()
	var ok bool
	if err := rawDB(t, testURL(t)).QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// oldSchema creates schema migrated up to version, with the migration
// files this package embeds.
func oldSchema(t *testing.T, schema string, version int) {
	is := is.New(t)
	db := rawDB(t, testURL(t))
	_, err := db.Exec(`CREATE SCHEMA ` + schema)
	is.NoErr(err) // the schema
	sdb := schemaDB(t, schema)
	_, err = sdb.Exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`)
	is.NoErr(err) // its table of applied migrations
	files, err := filepath.Glob(filepath.Join("migration", "*.sql"))
	is.NoErr(err) // the migrations
	slices.Sort(files)
	for i, f := range files[:version] {
		body, err := os.ReadFile(f)
		is.NoErr(err) // read one
		_, err = sdb.Exec(string(body))
		is.NoErr(err) // apply it
		_, err = sdb.Exec(`INSERT INTO schema_migrations VALUES ($1, $2, 0)`, i+1, filepath.Base(f))
		is.NoErr(err) // record it
	}
}

// TestOpenExisting opens, with OpenOptions.Existing and ReadOnly,
// schemas that are not there, hold no system database, or hold an older
// or a newer one: each is refused, and nothing is created or changed.
func TestOpenExisting(t *testing.T) {
	options := []store.OpenOptions{{Existing: true}, {ReadOnly: true}}

	t.Run("a missing schema is not found, and not created", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			schema := newSchema(t)
			_, err := postgres.OpenWith(t.Context(), withParam(testURL(t), "schema", schema), o)
			is.True(errors.Is(err, store.ErrNotFound)) // not found
			is.True(!schemaExists(t, schema))          // not created
		}
	})

	t.Run("a schema without a system database is not found", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			schema := newSchema(t)
			_, err := rawDB(t, testURL(t)).Exec(`CREATE SCHEMA ` + schema + `; CREATE TABLE ` + schema + `.notes (x text)`)
			is.NoErr(err) // another program's schema
			_, err = postgres.OpenWith(t.Context(), withParam(testURL(t), "schema", schema), o)
			is.True(errors.Is(err, store.ErrNotFound))                                                          // no system database in it
			is.Equal(count(t, schema, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`), 1) // nothing created in it
		}
	})

	t.Run("an older schema is too old, and not migrated", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			schema := newSchema(t)
			oldSchema(t, schema, 5)
			before := schemaShape(t, schema)
			_, err := postgres.OpenWith(t.Context(), withParam(testURL(t), "schema", schema), o)
			is.True(errors.Is(err, store.ErrSchemaTooOld)) // refused
			var se *store.SchemaError
			is.True(errors.As(err, &se))                               // with the versions
			is.Equal(se.Version, 5)                                    // the schema's
			is.Equal(se.Known, slices.Max(migrationVersions(t)))       // and this program's
			is.Equal(schemaShape(t, schema), before)                   // nothing migrated
			is.Equal(appliedVersions(t, schema), []int{1, 2, 3, 4, 5}) // nothing recorded
		}
		is := is.New(t)
		schema := newSchema(t)
		oldSchema(t, schema, 5)
		open(t, withParam(testURL(t), "schema", schema))           // an application opens it
		is.Equal(appliedVersions(t, schema), migrationVersions(t)) // and migrates it
	})

	t.Run("a newer schema is too new", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			schema := newSchema(t)
			u := withParam(testURL(t), "schema", schema)
			open(t, u).Close()
			_, err := schemaDB(t, schema).Exec(`INSERT INTO schema_migrations VALUES (99, '0099_future.sql', 0)`)
			is.NoErr(err) // a newer program migrated it
			_, err = postgres.OpenWith(t.Context(), u, o)
			is.True(errors.Is(err, store.ErrSchemaTooNew)) // refused
		}
	})

	t.Run("an existing schema opens, and works", func(t *testing.T) {
		is := is.New(t)
		schema := newSchema(t)
		u := withParam(testURL(t), "schema", schema)
		open(t, u).Close()
		s := openWith(t, u, store.OpenOptions{Existing: true})
		is.True(s.Notifying()) // it notifies its commits
		_, created, err := s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
		is.NoErr(err)    // it writes
		is.True(created) // a new workflow
	})
}

// TestReadOnlyRole opens a store read-only as a role that may only read
// the schema, as an inspector's: it reads, and its writes are refused.
func TestReadOnlyRole(t *testing.T) {
	is := is.New(t)
	app := setup(t)
	_, _, err := app.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
	is.NoErr(err) // the application writes
	b := make([]byte, 6)
	rand.Read(b)
	role, password := "reader_"+hex.EncodeToString(b), hex.EncodeToString(b)
	db := rawDB(t, testURL(t))
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password),
		fmt.Sprintf(`GRANT USAGE ON SCHEMA %s TO %s`, app.Schema(), role),
		fmt.Sprintf(`GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s`, app.Schema(), role),
	} {
		_, err := db.Exec(q)
		is.NoErr(err) // a role that may only read
	}
	t.Cleanup(func() {
		db.Exec(fmt.Sprintf(`DROP OWNED BY %s`, role))
		db.Exec(fmt.Sprintf(`DROP ROLE %s`, role))
	})
	c, err := postgres.ParseURL(testURL(t))
	is.NoErr(err) // the test database's address
	u := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?schema=%s", role, url.QueryEscape(password), c.Conn.Host, c.Conn.Port,
		c.Conn.Database, app.Schema())
	ro := openWith(t, u, store.OpenOptions{ReadOnly: true})
	wf, err := ro.GetWorkflow(t.Context(), "wf-1")
	is.NoErr(err)           // it reads
	is.Equal(wf.ID, "wf-1") // what the application wrote
	_, _, err = ro.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-2", Name: "f"})
	is.True(errors.Is(err, store.ErrReadOnly)) // a write is refused as read-only, before the role's privileges are looked at
}

// migrationVersions returns the versions of the embedded migrations, in
// order.
func migrationVersions(t *testing.T) []int {
	is := is.New(t)
	files, err := filepath.Glob(filepath.Join("migration", "*.sql"))
	is.NoErr(err)           // list migrations
	is.True(len(files) > 0) // there are migrations
	var vs []int
	for _, f := range files {
		var v int
		_, err := fmt.Sscanf(filepath.Base(f), "%d_", &v)
		is.NoErr(err) // migration names start with their version
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}
