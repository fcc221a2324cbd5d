package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
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
	busy := def("x.db")
	busy.BusyTimeout = 250
	tests := []struct {
		url     string
		want    sqlite.Config
		wantErr string // part of the message; "" for no error
	}{
		{url: "sqlite:app.db", want: def("app.db")},
		{url: "SQLITE:app.db", want: def("app.db")},
		{url: "sqlite:///abs/path.db", want: def("/abs/path.db")},
		{url: "sqlite::memory:", want: def(":memory:")},
		{url: "data/x.db", want: def("data/x.db")},
		{url: "/abs/x.db", want: def("/abs/x.db")},
		{url: "sqlite:x.db?synchronous=FULL", want: full},
		{url: "sqlite:x.db?synchronous=full", want: full},
		{url: "sqlite:x.db?busy_timeout=250", want: busy},
		{url: "sqlite:x.db?cache=shared", wantErr: `unknown parameter "cache"`},
		{url: "sqlite:x.db?synchronous=OFF", wantErr: "synchronous must be NORMAL or FULL"},
		{url: "sqlite:x.db?busy_timeout=-1", wantErr: "busy_timeout must be milliseconds"},
		{url: "sqlite:x.db?busy_timeout=1s", wantErr: "busy_timeout must be milliseconds"},
		{url: "sqlite:x.db?synchronous=%zz", wantErr: "x.db"},
		{url: "sqlite:", wantErr: "names no file"},
		{url: "sqlite:?synchronous=FULL", wantErr: "names no file"},
		{url: "", wantErr: "names no file"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			is := is.New(t)
			c, err := sqlite.ParseURL(tt.url)
			if tt.wantErr == "" {
				is.NoErr(err)        // a valid URL
				is.Equal(c, tt.want) // the config the URL says
				return
			}
			is.True(errors.Is(err, store.ErrUnsupportedURL))   // a bad URL is unsupported
			is.True(strings.Contains(err.Error(), tt.wantErr)) // the message says what is wrong
		})
	}
}

func TestOpenURL(t *testing.T) {
	t.Run("unknown scheme names the accepted ones", func(t *testing.T) {
		is := is.New(t)
		_, err := store.Open(t.Context(), "mysql://x")
		is.True(errors.Is(err, store.ErrUnsupportedURL))           // mysql is not a backend
		is.True(strings.Contains(err.Error(), "sqlite:"))          // names the sqlite scheme
		is.True(strings.Contains(err.Error(), "a bare file path")) // names bare paths
	})

	t.Run("postgres error hides the password", func(t *testing.T) {
		is := is.New(t)
		_, err := store.Open(t.Context(), "postgres://u:secret@h/db")
		is.True(errors.Is(err, store.ErrUnsupportedURL))  // no postgres backend linked
		is.True(!strings.Contains(err.Error(), "secret")) // the password is not in the message
		is.True(strings.Contains(err.Error(), "h/db"))    // the rest of the URL is
	})

	t.Run("bare path opens SQLite", func(t *testing.T) {
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "bare.db")
		s, err := store.Open(t.Context(), path)
		is.NoErr(err) // open a bare path
		defer s.Close()
		sq, ok := s.(*sqlite.Store)
		is.True(ok)               // a bare path is a SQLite file
		is.Equal(sq.Path(), path) // on that path
	})
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
