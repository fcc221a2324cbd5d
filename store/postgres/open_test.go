package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/postgres"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url      string
		schema   string
		maxConns int
		timeout  time.Duration
	}{
		{"postgres://u:s3cret@localhost/app", "dboslite", 16, 5 * time.Second},
		{"postgresql://u:s3cret@localhost:5433/app?sslmode=disable", "dboslite", 16, 5 * time.Second},
		{"postgres://localhost/app?schema=tenant_1&max_conns=4", "tenant_1", 4, 5 * time.Second},
		{"postgres://localhost/app?connect_timeout=2", "dboslite", 16, 2 * time.Second},
		{"host=localhost dbname=app schema=s2 max_conns=3", "s2", 3, 5 * time.Second},
		{"host=localhost dbname=app password='s3cret b' schema = _x", "_x", 16, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			is := is.New(t)
			c, err := postgres.ParseURL(tt.url)
			is.NoErr(err)                                                          // an accepted URL
			is.Equal(c.Schema, tt.schema)                                          // the schema
			is.Equal(c.MaxConns, tt.maxConns)                                      // the pool's bound
			is.Equal(c.Conn.ConnectTimeout, tt.timeout)                            // connection attempts are bounded
			is.Equal(c.Conn.RuntimeParams["search_path"], tt.schema)               // the schema is the search path
			is.Equal(c.Conn.RuntimeParams["schema"], "")                           // our parameters do not reach the server
			is.Equal(c.Conn.RuntimeParams["max_conns"], "")                        // either of them
			is.True(c.Conn.RuntimeParams["application_name"] != "")                // connections say whose they are
			is.True(!strings.Contains(fmt.Sprint(c.Conn.RuntimeParams), "s3cret")) // no password among the settings
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"sqlite:app.db", "not a postgres URL"},
		{"postgres://u:hunter2@localhost/app?schema=Upper", `schema "Upper"`},
		{"postgres://u:hunter2@localhost/app?schema=a-b", `schema "a-b"`},
		{"postgres://u:hunter2@localhost/app?schema=pg_x", `schema "pg_x"`},
		{"postgres://u:hunter2@localhost/app?schema=" + strings.Repeat("x", 55), "at most 54 bytes"},
		{"host=localhost password=hunter2 max_conns=0", `max_conns "0"`},
		{"postgres://u:hunter2@localhost/app?max_conns=x", `max_conns "x"`},
		{"postgres://u:hunter2@localhost/app?search_path=x", "schema=name"},
		{"postgres://u:hun/ter2@localhost/app", "does not parse"},
		{"postgres://u:hun@ter2@localhost/app", "must be percent-encoded"},
		{"postgres://u:hunter2@localhost:port/app", "does not parse"},
		{"host=localhost password='hunter2", "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			is := is.New(t)
			_, err := postgres.ParseURL(tt.url)
			is.True(errors.Is(err, store.ErrUnsupportedURL)) // refused
			is.True(strings.Contains(err.Error(), tt.want))  // says why
			is.True(!strings.Contains(err.Error(), "hun"))   // never the password
			is.True(!strings.Contains(err.Error(), "ter2"))  // none of it
		})
	}
}

// TestErrorsHidePasswords opens URLs with a password in every place a
// Postgres connection string can carry one, at a server that refuses
// them or is not there; no error may show it.
func TestErrorsHidePasswords(t *testing.T) {
	urls := []string{
		"postgres://u:hunter2@localhost/app",
		"postgresql://u:hunter2@localhost:5432/app?sslmode=disable",
		"postgres://u:hun%40ter2@localhost/app",
		"postgres://u:hun/ter2@localhost/app",
		"postgres://u:hun@ter2@localhost/app",
		"postgres://u:hun ter2@localhost/app",
		"postgres://localhost/app?user=u&password=hunter2",
		"postgres://localhost/app?sslmode=disable&PASSWORD=hunter2#x",
		"postgres://u:hunter2@localhost/app?schema=BAD",
		"host=localhost user=u password=hunter2 dbname=app",
		"host=localhost user=u password = hunter2 dbname=app",
		"host=localhost user=u password='hunter 2' dbname=app",
		`host=localhost user=u password='it\'s hunter2' dbname=app`,
		`host=localhost user=u password=hun\ ter2 dbname=app`,
		"host=localhost user=u password='hunter2",
		"host=localhost user=u password=hunter2 max_conns=-1",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			is := is.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, u)
			if err == nil {
				s.Close()
			}
			is.True(err != nil)                               // refused
			is.True(!strings.Contains(err.Error(), "hunter")) // the password is hidden
			is.True(!strings.Contains(err.Error(), "ter2"))   // all of it
		})
	}
}

// TestOpenFailsFast opens servers that refuse: each fails within
// seconds, and no error shows the password.
func TestOpenFailsFast(t *testing.T) {
	u := testURL(t)
	c, err := postgres.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	host, port := c.Conn.Host, c.Conn.Port
	silent := silentServer(t)
	tests := []struct {
		name, url string
	}{
		{"wrong password", fmt.Sprintf("postgres://%s:hunter2-wrong@%s:%d/%s", c.Conn.User, host, port, c.Conn.Database)},
		{"wrong password, key=value", fmt.Sprintf("host=%s port=%d user=%s password=hunter2-wrong dbname=%s", host, port, c.Conn.User, c.Conn.Database)},
		{"closed port", "postgres://u:hunter2@127.0.0.1:1/app"},
		{"a server that never answers", "postgres://u:hunter2@" + silent + "/app"}, // the default connect timeout
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			start := time.Now()
			s, err := postgres.Open(context.Background(), tt.url)
			if err == nil {
				s.Close()
			}
			is.True(err != nil)                               // refused
			is.True(time.Since(start) < 8*time.Second)        // within seconds
			is.True(!strings.Contains(err.Error(), "hunter")) // never the password
			is.True(strings.Contains(err.Error(), "xxxxx"))   // the URL is shown redacted
		})
	}
}

// silentServer returns the address of a TCP server that accepts
// connections and never says a word.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestOpenThroughStore(t *testing.T) {
	u := testURL(t)
	c, err := postgres.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	schema := newSchema(t)
	kv := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s schema=%s",
		c.Conn.Host, c.Conn.Port, c.Conn.User, c.Conn.Password, c.Conn.Database, schema)
	for _, u := range []string{withParam(u, "schema", schema), kv} {
		is := is.New(t)
		s, err := store.Open(t.Context(), u)
		is.NoErr(err) // store.Open finds the registered backend
		_, ok := s.(*postgres.Store)
		is.True(ok) // a postgres store
		_, _, err = s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-" + fmt.Sprint(len(u)), Name: "f"})
		is.NoErr(err) // it works
		is.NoErr(s.Close())
	}
	is := is.New(t)
	is.Equal(count(t, schema, `SELECT count(*) FROM workflows`), 2) // both wrote to the schema of the URL
}

// TestMigrateRace opens one new schema from eight goroutines at once.
func TestMigrateRace(t *testing.T) {
	const n = 8
	is := is.New(t)
	schema := newSchema(t)
	u := withParam(testURL(t), "schema", schema)
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	race(n, func(i int) { stores[i], errs[i] = postgres.Open(context.Background(), u) })
	for i := range n {
		is.NoErr(errs[i]) // every open succeeds
		defer stores[i].Close()
	}
	is.Equal(appliedVersions(t, schema), migrationVersions(t)) // each migration applied once
	_, created, err := stores[n-1].CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
	is.NoErr(err)    // the schema is usable
	is.True(created) // a new workflow
}

// TestSchemaTooNew opens a schema that a newer program has migrated: it
// has a migration this one does not embed, and a table of its own.
func TestSchemaTooNew(t *testing.T) {
	is := is.New(t)
	schema := newSchema(t)
	u := withParam(testURL(t), "schema", schema)
	s, err := postgres.Open(t.Context(), u)
	is.NoErr(err)       // create the schema
	is.NoErr(s.Close()) // and close it
	db := schemaDB(t, schema)
	_, err = db.Exec(`CREATE TABLE future (x integer)`)
	is.NoErr(err) // the newer program's table
	known := slices.Max(migrationVersions(t))
	newer := known + 3
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)`,
		newer, fmt.Sprintf("%04d_future.sql", newer))
	is.NoErr(err) // and its migration
	before := schemaShape(t, schema)

	_, err = postgres.Open(t.Context(), u)
	is.True(errors.Is(err, store.ErrSchemaTooNew)) // a newer schema is refused
	var tooNew *store.SchemaError
	is.True(errors.As(err, &tooNew)) // with the versions in fields
	is.Equal(tooNew.Version, newer)  // the database's
	is.Equal(tooNew.Known, known)    // and this program's
	want := fmt.Sprintf("database schema is version %d; this binary knows up to %d: upgrade the program", newer, known)
	is.True(strings.Contains(err.Error(), want))                              // the message names both
	is.Equal(schemaShape(t, schema), before)                                  // nothing changed
	is.Equal(appliedVersions(t, schema), append(migrationVersions(t), newer)) // no migration recorded
}

// appliedVersions returns the migrations recorded in a schema.
func appliedVersions(t *testing.T, schema string) []int {
	t.Helper()
	rows, err := schemaDB(t, schema).Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// schemaShape describes a schema's tables, columns and indexes.
func schemaShape(t *testing.T, schema string) string {
	t.Helper()
	var shape string
	err := rawDB(t, testURL(t)).QueryRow(`SELECT
		(SELECT string_agg(table_name || '.' || column_name || ' ' || data_type, ', ' ORDER BY table_name, column_name)
			FROM information_schema.columns WHERE table_schema = $1) || ' | ' ||
		(SELECT string_agg(indexname, ', ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = $1)`, schema).Scan(&shape)
	if err != nil {
		t.Fatal(err)
	}
	return shape
}
