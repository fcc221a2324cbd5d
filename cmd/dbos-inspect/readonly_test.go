package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// runAsCommandEnv makes the test binary run as dbos-inspect itself: the
// read-only test runs it so as another user.
const runAsCommandEnv = "DBOS_INSPECT_TEST_RUN_AS_COMMAND"

// files returns the names in dir with the SHA-256 of each, or its size
// for the -shm file, where SQLite readers mark what they read.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), "-shm") {
			out[e.Name()] = fmt.Sprintf("%d bytes", len(b))
		} else {
			out[e.Name()] = fmt.Sprintf("%x", sha256.Sum256(b))
		}
	}
	return out
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The read commands read a SQLite file that the user may only read, in a
// folder the user may not write, and change nothing in that folder. Root
// may write anything, so as root the commands run as nobody.
func TestReadOnlyFile(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sqlite")
	url := "sqlite:" + path
	fixture(t, url) // the application has stopped: no -wal or -shm file
	is.NoErr(os.Chmod(path, 0o444))
	is.NoErr(os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	before := files(t, dir)

	shows := map[string][]string{"order-1001": {"list"}, "checkout": {"show", "order-1001"}, "charge": {"steps", "order-1002"},
		"ship": {"stats"}, "reports": {"queues"}}
	for want, args := range shows {
		var r result
		if os.Geteuid() == 0 {
			r = asNobody(t, dir, append([]string{"-db", url}, args...))
		} else {
			r = inspect(url, args...)
		}
		is.Equal(r.stderr, "")                    // no error
		is.Equal(r.code, 0)                       // the command read the file
		is.True(strings.Contains(r.stdout, want)) // and shows its workflows
	}
	is.True(equalFiles(files(t, dir), before)) // nothing in the folder was written or created
}

// asNobody runs the test binary as dbos-inspect with args, as the user
// nobody, who may reach the folder dir but write neither it nor its file.
func asNobody(t *testing.T, dir string, args []string) result {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dbos-inspect.test")
	copyFile(t, os.Args[0], bin)
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), runAsCommandEnv+"=1", "HOME=/")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run as nobody: %v", err)
	}
	return result{code, out.String(), errOut.String()}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A missing SQLite file is an error that names it, and is not created.
func TestMissingDatabase(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "nothing.sqlite")
	for _, cmd := range []string{"list", "gc"} { // read-only and read-write
		args := []string{cmd}
		if cmd == "gc" {
			args = append(args, "-keep", "1")
		}
		r := inspect("sqlite:"+path, args...)
		is.Equal(r.code, exitError)                     // an error
		is.True(strings.Contains(r.stderr, path))       // naming the file
		is.True(strings.Contains(r.stderr, "give -db")) // saying what to do
		is.Equal(strings.Count(r.stderr, "\n"), 1)      // on one line
		is.Equal(len(files(t, dir)), 0)                 // nothing was created
	}
}

// A database a newer program migrated is refused with the versions, and
// left as it was.
func TestSchemaTooNew(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sqlite")
	fixture(t, "sqlite:"+path)
	db, err := sql.Open("sqlite", path)
	is.NoErr(err)
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`)
	is.NoErr(err) // a newer program's migration
	is.NoErr(db.Close())
	before := files(t, dir)
	r := inspect("sqlite:"+path, "list")
	is.Equal(r.code, exitError)                                  // refused
	is.True(strings.Contains(r.stderr, "schema is version 999")) // says which version the database has
	is.True(strings.Contains(r.stderr, "upgrade"))               // and what to do
	// (SQLite leaves an empty -wal and a -shm file in a folder it may
	// write: the application's next start uses them as its own.)
	is.Equal(files(t, dir)["app.sqlite"], before["app.sqlite"]) // the database is unchanged
}

// list keeps answering while an application writes at full speed, and
// the inspector writes nothing: once the application is idle, reading
// leaves the file and its WAL as they were.
func TestListWhileAppWrites(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "app.sqlite")
	e, err := durable.New(durable.Config{AppName: "app", SystemDatabaseURL: url, Logger: quietLogger(),
		HeartbeatInterval: time.Hour}) // no heartbeat writes while the test compares files
	is.NoErr(err)
	defer e.Shutdown(context.Background())
	tick, err := durable.Register(e, "tick", func(ctx context.Context, n int) (int, error) {
		return durable.Step(ctx, "add", func(context.Context) (int, error) { return n + 1, nil })
	})
	is.NoErr(err)
	is.NoErr(e.Launch(context.Background()))

	var stopped atomic.Bool // the application stops between two workflows, none left running
	first := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the application, at full speed
		defer wg.Done()
		for i := 0; !stopped.Load(); i++ {
			if _, err := tick.Run(context.Background(), i); err != nil {
				t.Errorf("run: %v", err)
				return
			}
			if i == 0 {
				close(first)
			}
		}
	}()
	<-first
	for range 20 {
		r := inspect(url, "list", "-limit", "5")
		is.Equal(r.stderr, "")                      // no error
		is.True(strings.Contains(r.stdout, "tick")) // the inspector answers while the application writes
	}
	stopped.Store(true)
	wg.Wait()

	before := files(t, dir)
	is.True(before["app.sqlite-wal"] != "") // the application is open: its WAL is there
	for _, args := range [][]string{{"list"}, {"stats"}, {"queues"}, {"watch", "-count", "1"}} {
		r := inspect(url, args...)
		is.Equal(r.code, 0) // read
	}
	is.True(equalFiles(files(t, dir), before)) // the file and its WAL are as they were, the -shm as large

	is.NoErr(e.Shutdown(context.Background())) // the application stops: its WAL is checkpointed into the file
	left := files(t, dir)["app.sqlite"]
	r := inspect(url, "list")
	is.Equal(r.code, 0)                         // read after the application stopped
	is.Equal(files(t, dir)["app.sqlite"], left) // and the file is as the application left it
}

// A workflow whose payloads another codec wrote still shows, with a note
// in place of its input.
func TestShowNotJSON(t *testing.T) {
	is := is.New(t)
	url := sqliteURL(t)
	fixture(t, url)
	s, err := store.Open(context.Background(), url)
	is.NoErr(err)
	f := &filler{t: t, s: s}
	f.create("gob-1", "legacy", "", "\x0d\xff\x81gob", t0)
	is.NoErr(s.Close())
	r := inspect(url, "show", "gob-1")
	is.Equal(r.code, 0)                                           // shown
	is.True(strings.Contains(r.stdout, "Input        (not JSON")) // with a note for the input
}
