// Package seed fills a migrated system database with many finished
// workflows in one statement, for the benchmarks that need a million rows
// (through the API that would take minutes).
package seed

import (
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL
	_ "modernc.org/sqlite"             // SQLite
)

// RowsEnv names the variable that overrides Rows, for a quicker look.
const RowsEnv = "DBOSLITE_BENCH_ROWS"

// Rows returns how many workflows the benchmarks seed: a million, unless
// $DBOSLITE_BENCH_ROWS says otherwise.
func Rows() int {
	if n, err := strconv.Atoi(os.Getenv(RowsEnv)); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Finished inserts n finished workflows, one in ten in ERROR, created and
// completed an hour ago, into the database at url: a "sqlite:" file, or a
// schema of PostgreSQL (url's schema= parameter), reached through pgBase.
// It fails tb if it cannot, and logs how long it took.
func Finished(tb testing.TB, url, pgBase string, n int) {
	tb.Helper()
	start := time.Now()
	if err := finished(url, pgBase, n); err != nil {
		tb.Fatalf("seed %d workflows: %v", n, err)
	}
	tb.Logf("seeded %d workflows in %v", n, time.Since(start).Round(time.Millisecond))
}

func finished(url, pgBase string, n int) error {
	past := time.Now().Add(-time.Hour).UnixMilli()
	var db *sql.DB
	var err error
	var q, after string
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		db, err = sql.Open("sqlite", path)
		q = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
			INSERT INTO workflows (id, name, status, input, output, executor_id, app_version, created_at, updated_at, completed_at)
			SELECT printf('seed-%07d', i), 'seeded', CASE WHEN i % 10 = 0 THEN 'ERROR' ELSE 'SUCCESS' END,
				CAST('1' AS BLOB), CAST('2' AS BLOB), 'local', 'v1', ? + i, ? + i, ? + i FROM c`
	} else {
		_, schema, _ := strings.Cut(url, "schema=")
		schema, _, _ = strings.Cut(schema, "&")
		db, err = sql.Open("pgx", pgBase)
		q = `INSERT INTO ` + schema + `.workflows (id, name, status, input, output, executor_id, app_version, created_at,
				updated_at, completed_at)
			SELECT 'seed-' || lpad(i::text, 7, '0'), 'seeded', CASE WHEN i % 10 = 0 THEN 'ERROR' ELSE 'SUCCESS' END,
				'\x31'::bytea, '\x32'::bytea, 'local', 'v1', $2::bigint + i, $3::bigint + i, $4::bigint + i
			FROM generate_series(1, $1::bigint) AS i`
		after = `VACUUM ANALYZE ` + schema + `.workflows` // as autovacuum would have, before anything is timed
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(q, n, past, past, past); err != nil {
		return err
	}
	if after != "" {
		_, err = db.Exec(after)
	}
	return err
}
