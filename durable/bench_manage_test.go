package durable_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
	seedpkg "github.com/dboslite/dboslite/internal/seed"
)

// The management benchmarks work on a database of a million finished
// workflows, seeded with one SQL statement (the API would take minutes):
//
//	go test -run '^$' -bench 'ListFirstPage|RetentionUnderLoad' -benchtime 1x ./durable/
//
// With DBOS_TEST_POSTGRES_URL set they run on PostgreSQL too;
// DBOSLITE_BENCH_ROWS seeds fewer rows for a quicker look.

// The first page of 50 failed workflows, newest first, of a million.
func BenchmarkListFirstPage(b *testing.B) {
	url := newDatabaseURL(b)
	e := newBenchEngine(b, url)
	seedpkg.Finished(b, url, os.Getenv(postgresEnv), seedpkg.Rows())
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
		seedpkg.Finished(b, url, os.Getenv(postgresEnv), seedpkg.Rows())
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
		if n < seedpkg.Rows() {
			b.Fatalf("deleted %d of %d", n, seedpkg.Rows())
		}
		b.Logf("deleted %d workflows in %v: %.0f workflows/s before, %.0f during", n, took.Round(time.Millisecond), baseline, during)
	}
}
