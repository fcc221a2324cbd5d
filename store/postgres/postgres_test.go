package postgres_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the tests' own connections
	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
	"github.com/dboslite/dboslite/store/storetest"
)

// envURL names the variable that holds the test database's URL.
const envURL = "DBOS_TEST_POSTGRES_URL"

func TestConformance(t *testing.T) {
	testURL(t) // skip once, not in every case
	storetest.Run(t, func(t *testing.T) store.Store {
		return setup(t)
	}, storetest.WithShared(func(t *testing.T, s store.Store) store.Store {
		// Another pool on the same schema, as another process would have.
		return open(t, withParam(testURL(t), "schema", s.(*postgres.Store).Schema()))
	}), storetest.WithReadOnly(func(t *testing.T, s store.Store) store.Store {
		return openWith(t, withParam(testURL(t), "schema", s.(*postgres.Store).Schema()), store.OpenOptions{ReadOnly: true})
	}), storetest.WithMissing(func(t *testing.T) string {
		return schemaURL(t) // a schema no test created
	}))
}

// testURL returns the URL of the test database. Without one the test is
// skipped, saying how to run it; under CI it fails instead, as the
// Postgres tests must not be skipped there.
func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u != "" {
		return u
	}
	msg := envURL + " is not set: run the Postgres tests with " +
		envURL + "=postgres://postgres:postgres@127.0.0.1:5432/dboslite_test go test ./store/postgres/"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// withParam returns u with the parameter key=value added, in u's own form:
// a query parameter of a URL, a pair of a key=value string.
func withParam(u, key, value string) string {
	if store.Scheme(u) == "postgres" && !strings.Contains(u, "://") {
		return u + " " + key + "=" + value
	}
	if strings.Contains(u, "?") {
		return u + "&" + key + "=" + value
	}
	return u + "?" + key + "=" + value
}

// newSchema returns the name of a schema no test uses, and drops it when
// the test ends, after the stores the test opened are closed (cleanups
// registered later run first).
func newSchema(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	u := testURL(t)
	t.Cleanup(func() {
		db := rawDB(t, u)
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS ` + name + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// schemaURL returns the test database's URL for a new schema.
func schemaURL(t *testing.T) string {
	t.Helper()
	return withParam(testURL(t), "schema", newSchema(t))
}

// open opens a store on u and closes it when the test ends.
func open(t *testing.T, u string) *postgres.Store {
	t.Helper()
	is := is.New(t)
	s, err := postgres.Open(t.Context(), u)
	is.NoErr(err) // open
	t.Cleanup(func() { s.Close() })
	return s
}

// openWith opens a store on u as o says, and closes it when the test
// ends.
func openWith(t *testing.T, u string, o store.OpenOptions) *postgres.Store {
	t.Helper()
	is := is.New(t)
	s, err := postgres.OpenWith(t.Context(), u, o)
	is.NoErr(err) // open
	t.Cleanup(func() { s.Close() })
	return s
}

// setup opens a store on a new schema.
func setup(t *testing.T) *postgres.Store {
	t.Helper()
	return open(t, schemaURL(t))
}

// rawDB opens a connection pool of the test's own on u, closed when the
// test ends.
func rawDB(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schemaDB opens a pool on the test database whose search_path is schema.
func schemaDB(t *testing.T, schema string) *sql.DB {
	t.Helper()
	return rawDB(t, withParam(testURL(t), "search_path", schema))
}
