package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/sqlite"
)

// TestOpenExisting opens, with OpenOptions.Existing and ReadOnly, files
// that are not there, hold no system database, or hold an older or a
// newer one: each is refused, and nothing is created or changed.
func TestOpenExisting(t *testing.T) {
	options := []store.OpenOptions{{Existing: true}, {ReadOnly: true}}

	t.Run("a missing file is not found, and not created", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "sub", "app.db")
			_, err := sqlite.OpenWith(t.Context(), "sqlite:"+path, o)
			is.True(errors.Is(err, store.ErrNotFound))   // not found
			is.True(strings.Contains(err.Error(), path)) // the message names the path
			entries, err := os.ReadDir(dir)
			is.NoErr(err)             // read the folder
			is.Equal(len(entries), 0) // neither the file nor its folder was created
		}
	})

	t.Run("an in-memory database is not found", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			_, err := sqlite.OpenWith(t.Context(), "sqlite::memory:", o)
			is.True(errors.Is(err, store.ErrNotFound)) // nothing exists before it is opened
		}
	})

	t.Run("a file without a system database is not found, and not changed", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			path := filepath.Join(t.TempDir(), "other.db")
			db, err := sql.Open("sqlite", path)
			is.NoErr(err) // another program's database
			_, err = db.Exec(`CREATE TABLE notes (x TEXT)`)
			is.NoErr(err) // with a table of its own
			is.NoErr(db.Close())
			before := readFile(t, path)
			_, err = sqlite.OpenWith(t.Context(), "sqlite:"+path, o)
			is.True(errors.Is(err, store.ErrNotFound))      // no system database in it
			is.True(bytes.Equal(readFile(t, path), before)) // not a byte changed: not even switched to WAL
		}
	})

	t.Run("an older schema is too old, and not migrated", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			path := filepath.Join(t.TempDir(), "old.db")
			vs := migrationVersions(t)
			slices.Sort(vs)
			known, older := vs[len(vs)-1], vs[len(vs)-2] // numbers may skip: they are never reused
			oldSchema(t, path, len(vs)-1)
			before := readFile(t, path)
			_, err := sqlite.OpenWith(t.Context(), "sqlite:"+path, o)
			is.True(errors.Is(err, store.ErrSchemaTooOld))  // refused
			is.True(!errors.Is(err, store.ErrSchemaTooNew)) // as older, not newer
			var se *store.SchemaError
			is.True(errors.As(err, &se))                                                                     // with the versions
			is.Equal(se.Version, older)                                                                      // the database's
			is.Equal(se.Known, known)                                                                        // and this program's
			is.True(strings.Contains(err.Error(), "start the application (a newer one) once to migrate it")) // says what to do
			is.True(bytes.Equal(readFile(t, path), before))                                                  // nothing migrated
		}
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "old.db")
		oldSchema(t, path, 5)
		openURL(t, "sqlite:"+path)                               // an application opens it
		is.Equal(appliedVersions(t, path), migrationVersions(t)) // and migrates it
	})

	t.Run("a newer schema is too new", func(t *testing.T) {
		for _, o := range options {
			is := is.New(t)
			path := filepath.Join(t.TempDir(), "new.db")
			openURL(t, "sqlite:"+path).Close()
			db, err := sql.Open("sqlite", path)
			is.NoErr(err) // as a newer program
			_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`)
			is.NoErr(err) // migrates it further
			is.NoErr(db.Close())
			_, err = sqlite.OpenWith(t.Context(), "sqlite:"+path, o)
			is.True(errors.Is(err, store.ErrSchemaTooNew)) // refused
		}
	})

	t.Run("an existing database opens, and works", func(t *testing.T) {
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "app.db")
		openURL(t, "sqlite:"+path).Close()
		s := openWith(t, path, store.OpenOptions{Existing: true})
		_, created, err := s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
		is.NoErr(err)    // it writes
		is.True(created) // a new workflow
	})
}

// oldSchema creates a system database at path with its first n migrations
// applied (numbers may skip: n counts files).
func oldSchema(t *testing.T, path string, n int) {
	is := is.New(t)
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	is.NoErr(err) // open
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	is.NoErr(err) // the table of applied migrations
	files, err := filepath.Glob(filepath.Join("migration", "*.sql"))
	is.NoErr(err) // the migrations
	slices.Sort(files)
	for _, f := range files[:n] {
		body, err := os.ReadFile(f)
		is.NoErr(err) // read a migration
		_, err = db.Exec(string(body))
		is.NoErr(err) // apply it
		var v int
		fmt.Sscanf(filepath.Base(f), "%d_", &v)
		_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, v, filepath.Base(f))
		is.NoErr(err) // record it
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadOnlyChangesNothing reads a file, with the application that owns
// it stopped, through a read-only store: the file is not changed.
func TestReadOnlyChangesNothing(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "app.db")
	app := openURL(t, "sqlite:"+path)
	_, _, err := app.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f", Input: []byte("in")})
	is.NoErr(err)         // the application writes
	is.NoErr(app.Close()) // and stops
	before := readFile(t, path)

	ro := openWith(t, path, store.OpenOptions{ReadOnly: true})
	wf, err := ro.GetWorkflow(t.Context(), "wf-1")
	is.NoErr(err)                    // read
	is.Equal(string(wf.Input), "in") // what the application wrote
	_, err = ro.ListWorkflows(t.Context(), store.ListParams{})
	is.NoErr(err) // list
	_, _, err = ro.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-2", Name: "f"})
	is.True(errors.Is(err, store.ErrReadOnly)) // a write is refused
	is.True(ro.FeedLost())                     // waiters poll: no writer follows other processes' commits
	is.NoErr(ro.Close())
	is.True(bytes.Equal(readFile(t, path), before)) // not a byte of the file changed
}

// TestReadOnlyBesideAWriter reads through a read-only store while the
// application writes at full speed: the application meets no error and
// no wait, and the reader sees its writes.
func TestReadOnlyBesideAWriter(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "app.db")
	app := openURL(t, "sqlite:"+path)
	ro := openWith(t, path, store.OpenOptions{ReadOnly: true})
	var stop atomic.Bool
	var written atomic.Int64
	var slowest atomic.Int64
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				start := time.Now()
				_, _, err := app.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: fmt.Sprintf("w%d-%d", w, i), Name: "f"})
				if err != nil {
					errs[w] = err
					return
				}
				written.Add(1)
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
			}
		})
	}
	var seen int
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		wfs, err := ro.ListWorkflows(t.Context(), store.ListParams{NoPayloads: true})
		is.NoErr(err)             // the reader reads all along
		is.True(len(wfs) >= seen) // and sees the writes
		seen = len(wfs)
	}
	stop.Store(true)
	wg.Wait()
	for _, err := range errs {
		is.NoErr(err) // the application meets no error
	}
	is.True(seen > 0)                                    // the reader saw writes
	is.True(time.Duration(slowest.Load()) < time.Second) // and no write waited for it
	t.Logf("%d writes; the reader last saw %d; slowest write %v", written.Load(), seen, time.Duration(slowest.Load()))
}

// envReadOnly names the file that TestReadOnlyUser's helper reads.
const envReadOnly = "DBOSLITE_TEST_READ_ONLY_FILE"

// TestReadOnlyUser reads, as a user who may only read the file and its
// folder, a file whose application runs and one whose application has
// stopped. As root, the reader is the test binary run again as nobody.
func TestReadOnlyUser(t *testing.T) {
	if os.Getenv(envReadOnly) != "" {
		readAsUser(t, os.Getenv(envReadOnly))
		return
	}
	for _, running := range []bool{true, false} {
		t.Run(fmt.Sprintf("application running %v", running), func(t *testing.T) {
			is := is.New(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "app.db")
			app := openURL(t, "sqlite:"+path)
			_, _, err := app.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-1", Name: "f"})
			is.NoErr(err) // the application writes
			if !running {
				is.NoErr(app.Close()) // and stops: its -wal and -shm files are gone
			}
			before := readFile(t, path)
			asReader(t, dir, path)
			is.True(bytes.Equal(readFile(t, path), before)) // the file is unchanged
			if running {
				_, _, err := app.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-2", Name: "f"})
				is.NoErr(err) // the application writes on
			}
		})
	}
}

// asReader runs readAsUser on path as a user who may read the file and
// its folder but write neither.
func asReader(t *testing.T, dir, path string) {
	is := is.New(t)
	if os.Geteuid() != 0 {
		is.NoErr(os.Chmod(path, 0o444)) // the file read-only
		is.NoErr(os.Chmod(dir, 0o555))  // and its folder
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		readAsUser(t, path)
		return
	}
	// The binary, the file and the folders above it must be reachable by
	// nobody, who may write none of them.
	bin := filepath.Join(t.TempDir(), "reader.test")
	copyFile(t, os.Args[0], bin)
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), dir, filepath.Dir(dir)} {
		is.NoErr(os.Chmod(d, 0o755)) // reachable
	}
	cmd := exec.Command(bin, "-test.run=^TestReadOnlyUser$", "-test.v")
	cmd.Env = append(os.Environ(), envReadOnly+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	is.NoErr(err) // the reader reads
}

// readAsUser opens path read-only, reads and tries to write.
func readAsUser(t *testing.T, path string) {
	is := is.New(t)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	is.True(err != nil) // this user may not write the file
	s, err := sqlite.OpenWith(t.Context(), "sqlite:"+path, store.OpenOptions{ReadOnly: true})
	is.NoErr(err) // open read-only
	defer s.Close()
	wf, err := s.GetWorkflow(t.Context(), "wf-1")
	is.NoErr(err)           // read
	is.Equal(wf.ID, "wf-1") // what the application wrote
	_, _, err = s.CreateWorkflow(t.Context(), store.WorkflowCreateParams{ID: "wf-3", Name: "f"})
	is.True(errors.Is(err, store.ErrReadOnly)) // a write is refused
}

func copyFile(t *testing.T, from, to string) {
	is := is.New(t)
	src, err := os.Open(from)
	is.NoErr(err) // open the binary
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	is.NoErr(err) // create the copy
	_, err = io.Copy(dst, src)
	is.NoErr(err)         // copy
	is.NoErr(dst.Close()) // written
}
