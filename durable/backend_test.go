package durable_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak" // the tests' own connections, to drop their schemas

	"github.com/dboslite/dboslite/internal/pgschema"
	_ "github.com/dboslite/dboslite/store/postgres" // the engine on PostgreSQL too
)

// The engine's tests run on every backend from one body: TestMain runs
// them on SQLite, then again, in a copy of the test binary, on
// PostgreSQL when $DBOS_TEST_POSTGRES_URL names a database. Every test
// gets a database of its own from newDatabaseURL: a file, or a schema.

const (
	backendEnv  = "DBOSLITE_TEST_BACKEND" // which backend this copy of the tests runs on
	postgresEnv = "DBOS_TEST_POSTGRES_URL"
)

// backend is the backend the tests of this process run on.
func backend() string {
	if b := os.Getenv(backendEnv); b != "" {
		return b
	}
	return "sqlite"
}

// onPostgres runs the tests again on PostgreSQL, with the same
// arguments, and returns that run's exit code. Without a database to run
// them on it says how to give one, and fails under CI, where they must
// run.
func onPostgres() int {
	if os.Getenv(postgresEnv) == "" {
		msg := "the engine's tests on PostgreSQL did not run: set " + postgresEnv +
			"=postgres://postgres:postgres@127.0.0.1:5432/dboslite_test to run them"
		fmt.Fprintln(os.Stderr, msg)
		if os.Getenv("CI") == "true" {
			return 1
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "== the same tests on PostgreSQL")
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), backendEnv+"=postgres")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "run the tests on PostgreSQL:", err)
		return 1
	}
	return 0
}

// newDatabaseURL returns the URL of a new, empty system database on the
// backend under test, removed when the test ends.
func newDatabaseURL(t testing.TB) string {
	t.Helper()
	if backend() != "postgres" {
		return "sqlite:" + filepath.Join(t.TempDir(), "sys.sqlite")
	}
	return pgschema.ForTest(t, os.Getenv(postgresEnv))
}

// onlySQLite skips a test about SQLite itself in the PostgreSQL run; the
// SQLite run has run it.
func onlySQLite(t *testing.T) {
	t.Helper()
	if backend() != "sqlite" {
		t.Skip("a test of the SQLite backend: it ran in the SQLite run")
	}
}

// ignorePgxClose lets a leak check pass over pgx's own cleanup: a query
// cancelled by its context (as Shutdown cancels them) makes pgconn close
// that connection in a goroutine of its own, which ends by itself within
// its deadline.
var ignorePgxClose = goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn.(*PgConn).asyncClose.func1")
