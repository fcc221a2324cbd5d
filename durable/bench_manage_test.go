package durable_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// The management benchmarks work on a database of a million finished
// workflows, seeded with one SQL statement (the API would take minutes):
//
//	go test -run '^$' -bench 'ListFirstPage|RetentionUnderLoad' -benchtime 1x ./durable/
//
// With DBOS_TEST_POSTGRES_URL set they run on PostgreSQL too.

const seedRows = 1_000_000

// seedRowsEnv overrides seedRows, for a quicker look.
const seedRowsEnv = "DBOSLITE_BENCH_ROWS"

func rows() int {
	if n, err := strconv.Atoi(os.Getenv(seedRowsEnv)); err == nil && n > 0 {
		return n
	}
	return seedRows
}

// seed inserts n finished workflows created and completed an hour ago,
// one in ten in ERROR, into the database at url (migrated already).
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

// The first page of 50 failed workflows, newest first, of a million.
func BenchmarkListFirstPage(b *testing.B) {
	url := newDatabaseURL(b)
	e := newBenchEngine(b, url)
	seed(b, url, rows())
	q := durable.ListQuery{Statuses: []durable.Status{durable.StatusError}, NewestFirst: true, Limit: 50}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		page, err := e.ListWorkflows(ctx, q)
		if err != nil || len(page.Workflows) != 50 {
			b.Fatalf("%d workflows, %v", len(page.Workflows), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
}

// Retention deletes a million finished workflows while an engine runs
// workflows one at a time: the benchmark reports the engine's rate
// before and during it.
func BenchmarkRetentionUnderLoad(b *testing.B) {
	for range b.N {
		url := newDatabaseURL(b)
		e := newBenchEngine(b, url)
		wf, err := durable.Register(e, "three-steps", benchThreeSteps)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Launch(context.Background()); err != nil {
			b.Fatal(err)
		}
		seed(b, url, rows())
		ctx := context.Background()
		var done atomic.Int64
		stop := make(chan struct{})
		running := make(chan struct{})
		go func() {
			defer close(running)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := wf.Run(ctx, i); err != nil {
					b.Error(err)
					return
				}
				done.Add(1)
			}
		}()
		rate := func(d time.Duration) float64 {
			before := done.Load()
			time.Sleep(d)
			return float64(done.Load()-before) / d.Seconds()
		}
		baseline := rate(5 * time.Second)
		start := time.Now()
		gcDone := make(chan int)
		go func() {
			n, err := e.CollectGarbage(ctx, durable.Retention{CompletedBefore: time.Now().Add(-30 * time.Minute)})
			if err != nil {
				b.Error(err)
			}
			gcDone <- n
		}()
		before := done.Load()
		n := <-gcDone
		took := time.Since(start)
		during := float64(done.Load()-before) / took.Seconds()
		close(stop)
		<-running
		b.ReportMetric(baseline, "wf/s-before")
		b.ReportMetric(during, "wf/s-during")
		b.ReportMetric(100*(1-during/baseline), "%drop")
		b.ReportMetric(took.Seconds(), "s-to-delete")
		if n < rows() {
			b.Fatalf("deleted %d of %d", n, rows())
		}
		b.Logf("deleted %d workflows in %v: %.0f workflows/s before, %.0f during", n, took.Round(time.Millisecond), baseline, during)
	}
}
