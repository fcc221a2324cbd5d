package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/sqlite"
)

func TestParseURL(t *testing.T) {
	def := func(path string) sqlite.Config {
		return sqlite.Config{Path: path, Synchronous: "NORMAL", BusyTimeout: 10000}
	}
	full := def("x.db")
	full.Synchronous = "FULL"
	busy := def("/var/x.db")
	busy.BusyTimeout = 250
	memFull := def(":memory:")
	memFull.Synchronous = "FULL"
	tests := []struct {
		url  string
		want sqlite.Config
	}{
		// DBOS Go
		{"sqlite:app.db", def("app.db")},
		{"SQLITE:app.db", def("app.db")},
		{"sqlite:data/app.db", def("data/app.db")},
		{"sqlite:./app.db", def("./app.db")},
		{"sqlite:/var/app.db", def("/var/app.db")},
		{"sqlite::memory:", def(":memory:")},
		// SQLAlchemy (DBOS Python): three slashes, then the path
		{"sqlite:///app.sqlite", def("app.sqlite")},
		{"sqlite:///data/app.sqlite", def("data/app.sqlite")},
		{"sqlite:////var/app.sqlite", def("/var/app.sqlite")},
		{"sqlite:///:memory:", def(":memory:")},
		// parameters
		{"sqlite:x.db?synchronous=FULL", full},
		{"sqlite:x.db?synchronous=full", full},
		{"sqlite:///x.db?synchronous=FULL", full},
		{"sqlite:////var/x.db?busy_timeout=250", busy},
		{"sqlite::memory:?synchronous=FULL", memFull},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			is := is.New(t)
			c, err := sqlite.ParseURL(tt.url)
			is.NoErr(err)        // an accepted URL
			is.Equal(c, tt.want) // the config the URL says
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	tests := []struct {
		url       string
		want      string // part of the message
		showForms bool   // the message lists the accepted URL forms
	}{
		{"app.db", "not a sqlite: URL", true},
		{"/var/app.db", "not a sqlite: URL", true},
		{"", "not a sqlite: URL", true},
		{"file:app.db", "not a sqlite: URL", true},
		{"postgres://u:hunter2@localhost/app", "not a sqlite: URL", true},
		{"host=localhost password=hunter2", "not a sqlite: URL", true},
		{"sqlite:~/x.db", "~ is not expanded", true},
		{"sqlite:~", "~ is not expanded", true},
		{"sqlite:~bob/x.db", "~ is not expanded", true},
		{"sqlite:///~/x.db", "~ is not expanded", true},
		{"sqlite://host/x.db", "host", true},
		{"sqlite://./x.db", "host", true},
		{"sqlite://:memory:", "host", true},
		{"sqlite://u:hunter2@host/x.db", "host", true},
		{"sqlite://", "names no file", true},
		{"sqlite://?synchronous=FULL", "names no file", true},
		{"sqlite:///", "names no file", true},
		{"sqlite:", "names no file", true},
		{"sqlite:?synchronous=FULL", "names no file", true},
		{"sqlite:x.db?cache=shared", `unknown parameter "cache"`, false},
		{"sqlite:x.db?password=hunter2", `unknown parameter "password"`, false},
		{"sqlite:x.db?synchronous=OFF", "synchronous must be NORMAL or FULL", false},
		{"sqlite:x.db?busy_timeout=-1", "busy_timeout must be milliseconds", false},
		{"sqlite:x.db?busy_timeout=1s", "busy_timeout must be milliseconds", false},
		{"sqlite:x.db?synchronous=%zz", "x.db", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			is := is.New(t)
			_, err := sqlite.ParseURL(tt.url)
			is.True(errors.Is(err, store.ErrUnsupportedURL)) // refused
			msg := err.Error()
			is.True(strings.Contains(msg, tt.want))    // says what is wrong
			is.True(!strings.Contains(msg, "hunter2")) // never a password
			if tt.showForms {
				is.True(strings.Contains(msg, "sqlite:////var/app.db")) // lists the accepted forms
				is.True(strings.Contains(msg, "postgres://"))           // all of them
			}
		})
	}
}

// TestOpenURLPaths opens each file form in a fresh working directory and
// looks where the file went: relative forms stay relative.
func TestOpenURLPaths(t *testing.T) {
	tests := []struct {
		name string
		url  func(dir string) string
		path func(dir string) string // the file Path reports
		file func(dir string) string // where it is on disk
	}{
		{"sqlite:rel",
			func(string) string { return "sqlite:rel.db" },
			func(string) string { return "rel.db" },
			func(dir string) string { return filepath.Join(dir, "rel.db") }},
		{"sqlite:/abs",
			func(dir string) string { return "sqlite:" + filepath.Join(dir, "abs.db") },
			func(dir string) string { return filepath.Join(dir, "abs.db") },
			func(dir string) string { return filepath.Join(dir, "abs.db") }},
		{"sqlite:///rel (SQLAlchemy)",
			func(string) string { return "sqlite:///rel.sqlite" },
			func(string) string { return "rel.sqlite" },
			func(dir string) string { return filepath.Join(dir, "rel.sqlite") }},
		{"sqlite:///sub/rel (SQLAlchemy)",
			func(string) string { return "sqlite:///sub/rel.sqlite" },
			func(string) string { return "sub/rel.sqlite" },
			func(dir string) string { return filepath.Join(dir, "sub", "rel.sqlite") }},
		{"sqlite:////abs (SQLAlchemy)",
			func(dir string) string { return "sqlite:///" + filepath.Join(dir, "abs.sqlite") },
			func(dir string) string { return filepath.Join(dir, "abs.sqlite") },
			func(dir string) string { return filepath.Join(dir, "abs.sqlite") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			dir := t.TempDir()
			t.Chdir(dir)
			s, err := store.Open(t.Context(), tt.url(dir))
			is.NoErr(err) // an accepted URL opens
			defer s.Close()
			sq, ok := s.(*sqlite.Store)
			is.True(ok)                       // a SQLite store
			is.Equal(sq.Path(), tt.path(dir)) // on the path the URL names
			_, err = os.Stat(tt.file(dir))
			is.NoErr(err) // the file is there
		})
	}
}

// TestOpenURLRefuses opens refused URLs in a fresh working directory; DIR
// in a URL stands for another fresh directory. Neither may gain a file.
func TestOpenURLRefuses(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"bare relative path", "bare.db", `write "sqlite:bare.db"`},
		{"bare absolute path", "DIR/bare.db", `write "sqlite:DIR/bare.db"`},
		{"tilde", "sqlite:~/x.db", "~ is not expanded"},
		{"authority", "sqlite://host/x.db", "host"},
		{"file URI", "file:x.db", "file: URI"},
		{"key=value DSN", "host=localhost user=postgres password='hunter 2' dbname=app", `import _ "github.com/dboslite/dboslite/store/postgres"`},
		{"postgres URL", "postgres://u:hunter2@h/db", `import _ "github.com/dboslite/dboslite/store/postgres"`},
		{"unknown scheme", "mysql://u:hunter2@h/db", "sqlite:////var/app.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			wd, other := t.TempDir(), t.TempDir()
			t.Chdir(wd)
			url := strings.ReplaceAll(tt.url, "DIR", other)
			s, err := store.Open(t.Context(), url)
			is.True(s == nil)                                                                 // no store, not even a nil *sqlite.Store
			is.True(errors.Is(err, store.ErrUnsupportedURL))                                  // refused
			is.True(strings.Contains(err.Error(), strings.ReplaceAll(tt.want, "DIR", other))) // says why, or what to write
			is.True(!strings.Contains(err.Error(), "hunter"))                                 // never a password
			for _, dir := range []string{wd, other} {
				entries, err := os.ReadDir(dir)
				is.NoErr(err)             // read the folder
				is.Equal(len(entries), 0) // nothing was created
			}
		})
	}
}

func TestOpenPath(t *testing.T) {
	t.Run("directory is an error naming the path", func(t *testing.T) {
		is := is.New(t)
		dir := t.TempDir()
		_, err := sqlite.Open(t.Context(), "sqlite:"+dir)
		is.True(err != nil)                         // a directory holds no database
		is.True(strings.Contains(err.Error(), dir)) // the message names the path
	})

	t.Run("folders of a new file are created", func(t *testing.T) {
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "a", "b", "app.db")
		s, err := sqlite.Open(t.Context(), "sqlite:"+path)
		is.NoErr(err) // open in a folder that does not exist yet
		is.NoErr(s.Close())
		_, err = os.Stat(path)
		is.NoErr(err) // the file is there
	})

	t.Run("journal mode is WAL", func(t *testing.T) {
		is := is.New(t)
		s := setup(t)
		db, err := sql.Open("sqlite", s.Path())
		is.NoErr(err) // open a second connection
		defer db.Close()
		var mode string
		is.NoErr(db.QueryRow("PRAGMA journal_mode").Scan(&mode)) // read the journal mode
		is.Equal(mode, "wal")                                    // the file is in WAL mode
	})

	t.Run("synchronous FULL", func(t *testing.T) {
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "full.db")
		s, err := sqlite.Open(t.Context(), "sqlite:"+path+"?synchronous=FULL")
		is.NoErr(err) // open with synchronous=FULL
		defer s.Close()
		_, created, err := s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
		is.NoErr(err)    // write
		is.True(created) // the store works
	})
}

// migrationVersions returns the version numbers of the embedded migration
// files, read from the source folder they are embedded from.
func migrationVersions(t *testing.T) []int {
	is := is.New(t)
	files, err := filepath.Glob(filepath.Join("migration", "*.sql"))
	is.NoErr(err)           // list migrations
	is.True(len(files) > 0) // there are migrations
	var vs []int
	for _, f := range files {
		num, _, _ := strings.Cut(filepath.Base(f), "_")
		v, err := strconv.Atoi(num)
		is.NoErr(err) // migration names start with their version
		vs = append(vs, v)
	}
	return vs
}

// appliedVersions reads schema_migrations of the file at path through a
// connection of its own.
func appliedVersions(t *testing.T, path string) []int {
	is := is.New(t)
	db, err := sql.Open("sqlite", path)
	is.NoErr(err) // open a second connection
	defer db.Close()
	rows, err := db.Query("SELECT version FROM schema_migrations ORDER BY version")
	is.NoErr(err) // read schema_migrations
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		is.NoErr(rows.Scan(&v)) // scan a version
		vs = append(vs, v)
	}
	is.NoErr(rows.Err()) // read every row
	return vs
}

func TestMigrate(t *testing.T) {
	t.Run("concurrent opens of a new file migrate once", func(t *testing.T) {
		const n = 8
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "new.db")
		stores := make([]*sqlite.Store, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = sqlite.Open(t.Context(), "sqlite:"+path)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			is.NoErr(errs[i]) // every open succeeds
			defer stores[i].Close()
		}

		is.Equal(appliedVersions(t, path), migrationVersions(t)) // each migration applied once
		_, created, err := stores[n-1].CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
		is.NoErr(err)    // the schema is usable
		is.True(created) // a new workflow
	})

	t.Run("reopen keeps data and migrations", func(t *testing.T) {
		is := is.New(t)
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "app.db")
		s, err := sqlite.Open(ctx, "sqlite:"+path)
		is.NoErr(err) // first open
		_, _, err = s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf-1", Name: "f", Input: []byte("in")})
		is.NoErr(err)                                                                                                                    // create
		is.NoErr(s.RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "wf-1", StepID: 1, Name: "s", Output: []byte("out")}})) // record
		is.NoErr(s.Close())                                                                                                              // close

		s, err = sqlite.Open(ctx, "sqlite:"+path)
		is.NoErr(err) // reopen
		defer s.Close()
		wf, err := s.GetWorkflow(ctx, "wf-1")
		is.NoErr(err)                    // the workflow survived
		is.Equal(string(wf.Input), "in") // with its input
		steps, err := s.Steps(ctx, "wf-1")
		is.NoErr(err)                                            // read steps
		is.Equal(len(steps), 1)                                  // the step survived
		is.Equal(string(steps[0].Output), "out")                 // with its output
		is.Equal(appliedVersions(t, path), migrationVersions(t)) // nothing applied twice
	})
}

// TestSchemaTooNew opens a file that a newer program has migrated: it
// has a migration this one does not embed, and a table of its own.
func TestSchemaTooNew(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "newer.db")
	s, err := sqlite.Open(t.Context(), "sqlite:"+path)
	is.NoErr(err)       // create the file
	is.NoErr(s.Close()) // and close it
	known := slices.Max(migrationVersions(t))
	newer := known + 3
	db, err := sql.Open("sqlite", path)
	is.NoErr(err) // a connection of its own, as the newer program
	_, err = db.Exec("CREATE TABLE future (x INTEGER)")
	is.NoErr(err) // the newer program's table
	_, err = db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)",
		newer, fmt.Sprintf("%04d_future.sql", newer))
	is.NoErr(err)        // and its migration
	is.NoErr(db.Close()) // checkpointed into the file
	before, err := os.ReadFile(path)
	is.NoErr(err) // read the file

	_, err = sqlite.Open(t.Context(), "sqlite:"+path)
	is.True(errors.Is(err, store.ErrSchemaTooNew)) // a newer schema is refused
	var tooNew *store.SchemaError
	is.True(errors.As(err, &tooNew)) // with the versions in fields
	is.Equal(tooNew.Version, newer)  // the database's
	is.Equal(tooNew.Known, known)    // and this program's
	want := fmt.Sprintf("database schema is version %d; this binary knows up to %d: upgrade the program", newer, known)
	is.True(strings.Contains(err.Error(), want)) // the message names both

	after, err := os.ReadFile(path)
	is.NoErr(err)                                                           // read the file again
	is.True(bytes.Equal(after, before))                                     // not a byte changed
	is.Equal(appliedVersions(t, path), append(migrationVersions(t), newer)) // no migration recorded
}

func TestMemory(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	s, err := sqlite.Open(ctx, "sqlite::memory:")
	is.NoErr(err) // open in memory
	defer s.Close()
	is.Equal(s.Path(), "") // no file

	_, created, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf-1", Name: "f", Input: []byte("in")})
	is.NoErr(err)    // create
	is.True(created) // a new workflow
	wf, err := s.GetWorkflow(ctx, "wf-1")
	is.NoErr(err)                            // get
	is.Equal(wf.Status, store.StatusPending) // created PENDING
	for _, n := range []int{2, 1} {
		is.NoErr(s.RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "wf-1", StepID: n, Name: "s", Output: []byte{byte('0' + n)}}})) // record
	}
	steps, err := s.Steps(ctx, "wf-1")
	is.NoErr(err)                          // read steps
	is.Equal(len(steps), 2)                // both steps
	is.Equal(string(steps[0].Output), "1") // in order
	is.Equal(string(steps[1].Output), "2") // in order

	other, err := sqlite.Open(ctx, "sqlite::memory:")
	is.NoErr(err) // a second in-memory store
	defer other.Close()
	_, err = other.GetWorkflow(ctx, "wf-1")
	is.True(errors.Is(err, store.ErrNotFound)) // in-memory stores share nothing
}

func openURL(t *testing.T, url string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
