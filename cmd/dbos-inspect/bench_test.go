package main

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// The benchmarks measure the command as a user runs it, opening and
// closing the database each time:
//
//	go test -run '^$' -bench . -benchtime 1x ./cmd/dbos-inspect/
//
// BenchmarkListFirstPage seeds a million workflows (DBOSLITE_BENCH_ROWS
// overrides) with one SQL statement, as durable's management benchmarks
// do; with DBOS_TEST_POSTGRES_URL set it runs on PostgreSQL too.

const seedRowsEnv = "DBOSLITE_BENCH_ROWS"

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv(seedRowsEnv)); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchURLs returns a new database of each backend, migrated.
func benchURLs(b *testing.B) map[string]string {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(b.TempDir(), "sys.sqlite")}
	if os.Getenv(postgresEnv) != "" {
		urls["postgres"] = benchPostgresURL(b)
	}
	for _, url := range urls {
		s, err := store.Open(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	return urls
}

func benchPostgresURL(b *testing.B) string {
	base := os.Getenv(postgresEnv)
	schema := "bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	b.Cleanup(func() {
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	if strings.Contains(base, "?") {
		return base + "&schema=" + schema
	}
	return base + "?schema=" + schema
}

// seed inserts n finished workflows, one in ten in ERROR.
func seed(b *testing.B, url string, n int) {
	b.Helper()
	start := time.Now()
	past := time.Now().Add(-time.Hour).UnixMilli()
	var db *sql.DB
	var err error
	var q string
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		db, err = sql.Open("sqlite", path)
		q = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
			INSERT INTO workflows (id, name, status, input, output, executor_id, app_version, created_at, updated_at, completed_at)
			SELECT printf('seed-%07d', i), 'seeded', CASE WHEN i % 10 = 0 THEN 'ERROR' ELSE 'SUCCESS' END,
				CAST('1' AS BLOB), CAST('2' AS BLOB), 'local', 'v1', ? + i, ? + i, ? + i FROM c`
	} else {
		_, schema, _ := strings.Cut(url, "schema=")
		db, err = sql.Open("pgx", os.Getenv(postgresEnv))
		q = `INSERT INTO ` + schema + `.workflows (id, name, status, input, output, executor_id, app_version, created_at,
				updated_at, completed_at)
			SELECT 'seed-' || lpad(i::text, 7, '0'), 'seeded', CASE WHEN i % 10 = 0 THEN 'ERROR' ELSE 'SUCCESS' END,
				'\x31'::bytea, '\x32'::bytea, 'local', 'v1', $2::bigint + i, $3::bigint + i, $4::bigint + i
			FROM generate_series(1, $1::bigint) AS i`
		defer func() { db.Exec(`ANALYZE ` + schema + `.workflows`) }()
	}
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, n, past, past, past); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d workflows in %v", n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkListFirstPage runs "dbos-inspect list" (the newest 20) and
// "list -status ERROR" on a database of a million workflows: the
// command's own time, open and close included.
func BenchmarkListFirstPage(b *testing.B) {
	for backend, url := range benchURLs(b) {
		seed(b, url, benchRows())
		for _, args := range [][]string{{"list"}, {"list", "-status", "ERROR"}} {
			b.Run(backend+"/"+strings.Join(args, "_"), func(b *testing.B) {
				args = append([]string{"-db", url}, args...)
				for b.Loop() {
					if code := run(context.Background(), args, io.Discard, io.Discard, os.Getenv); code != 0 {
						b.Fatalf("exit %d", code)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list")
			})
		}
	}
}

// BenchmarkInspectWhileWriting measures what inspecting costs an
// application that runs one-step workflows at full speed on SQLite: its
// throughput alone, then while "dbos-inspect list" runs in a loop
// without pause (far more than a person or watch does), then while watch
// refreshes every second. DBOSLITE_BENCH_SECONDS sets each phase's
// length (default 5).
func BenchmarkInspectWhileWriting(b *testing.B) {
	secs := 5
	if n, err := strconv.Atoi(os.Getenv("DBOSLITE_BENCH_SECONDS")); err == nil && n > 0 {
		secs = n
	}
	phase := time.Duration(secs) * time.Second
	url := "sqlite:" + filepath.Join(b.TempDir(), "app.sqlite")
	e, err := durable.New(durable.Config{AppName: "app", SystemDatabaseURL: url, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	tick, err := durable.Register(e, "tick", func(ctx context.Context, n int) (int, error) {
		return durable.Step(ctx, "add", func(context.Context) (int, error) { return n + 1, nil })
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Launch(context.Background()); err != nil {
		b.Fatal(err)
	}
	// throughput runs the application for d, with inspect running beside
	// it, and returns its workflows per second.
	throughput := func(inspector func(ctx context.Context)) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), phase)
		defer cancel()
		var n atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					if _, err := tick.Run(ctx, i); err != nil {
						return
					}
					n.Add(1)
				}
			})
		}
		if inspector != nil {
			wg.Go(func() { inspector(ctx) })
		}
		wg.Wait()
		return float64(n.Load()) / phase.Seconds()
	}
	var lists atomic.Int64
	listLoop := func(ctx context.Context) {
		for ctx.Err() == nil {
			run(ctx, []string{"-db", url, "list"}, io.Discard, io.Discard, os.Getenv)
			lists.Add(1)
		}
	}
	watch := func(ctx context.Context) {
		run(ctx, []string{"-db", url, "watch", "-interval", "1s"}, io.Discard, io.Discard, os.Getenv)
	}
	for b.Loop() {
		throughput(nil) // warm up
		alone := throughput(nil)
		looped := throughput(listLoop)
		watched := throughput(watch)
		b.ReportMetric(alone, "wf/s-alone")
		b.ReportMetric(looped, "wf/s-list-loop")
		b.ReportMetric(float64(lists.Load())/phase.Seconds(), "lists/s")
		b.ReportMetric(watched, "wf/s-watch")
		b.ReportMetric(100*(1-looped/alone), "%cost-list-loop")
		b.ReportMetric(100*(1-watched/alone), "%cost-watch")
	}
}
