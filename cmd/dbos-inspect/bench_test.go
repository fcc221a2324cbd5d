package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/internal/pgschema"
	seedpkg "github.com/dboslite/dboslite/internal/seed"
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

// benchURLs returns a new database of each backend, migrated.
func benchURLs(b *testing.B) map[string]string {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(b.TempDir(), "sys.sqlite")}
	if os.Getenv(postgresEnv) != "" {
		urls["postgres"] = pgschema.ForTest(b, os.Getenv(postgresEnv))
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

// BenchmarkListFirstPage runs "dbos-inspect list" (the newest 20) and
// "list -status ERROR" on a database of a million workflows: the
// command's own time, open and close included.
func BenchmarkListFirstPage(b *testing.B) {
	for backend, url := range benchURLs(b) {
		seedpkg.Finished(b, url, os.Getenv(postgresEnv), seedpkg.Rows())
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
// without pause (far more than a person or watch does), ten times a
// second, and while watch refreshes every second; and, to tell the
// cost of the database from that of the processes on a small machine,
// while "dbos-inspect help", which opens nothing, runs in a loop. DBOSLITE_BENCH_SECONDS sets each phase's
// length (default 3).
func BenchmarkInspectWhileWriting(b *testing.B) {
	secs := 3
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
	// The inspector is another process, as it is for a user: this test
	// binary run as dbos-inspect (see TestMain).
	inspect := func(ctx context.Context, args ...string) {
		cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-db", url}, args...)...)
		cmd.Env = append(os.Environ(), runAsCommandEnv+"=1")
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // Ctrl-C
		cmd.Run()
	}
	var lists atomic.Int64
	listEvery := func(pause time.Duration) func(ctx context.Context) {
		return func(ctx context.Context) {
			for ctx.Err() == nil {
				inspect(ctx, "list")
				lists.Add(1)
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}
	}
	watch := func(ctx context.Context) { inspect(ctx, "watch", "-interval", "1s") }
	// helpLoop is the control: as many processes, which open no database.
	helpLoop := func(ctx context.Context) {
		for ctx.Err() == nil {
			inspect(ctx, "help")
		}
	}
	// The machine is shared: the phases take turns, three rounds, and
	// each cost is the median of the three rounds' costs against the
	// round's own run alone.
	phases := []struct {
		name      string
		inspector func(ctx context.Context)
	}{{"alone", nil}, {"list-loop", listEvery(0)}, {"list-10/s", listEvery(100 * time.Millisecond)}, {"watch", watch}, {"help-loop", helpLoop}}
	for b.Loop() {
		throughput(nil) // warm up
		got := map[string][]float64{}
		cost := map[string][]float64{}
		for range 3 {
			for _, p := range phases {
				wfs := throughput(p.inspector)
				got[p.name] = append(got[p.name], wfs)
				if p.inspector != nil {
					alone := got["alone"][len(got["alone"])-1]
					cost[p.name] = append(cost[p.name], 100*(1-wfs/alone))
				}
			}
		}
		median := func(xs []float64) float64 { xs = slices.Clone(xs); slices.Sort(xs); return xs[len(xs)/2] }
		b.Logf("workflows/s per round: %v", got)
		b.Logf("cost %% per round: %v", cost)
		b.ReportMetric(median(got["alone"]), "wf/s-alone")
		for _, p := range phases[1:] {
			b.ReportMetric(median(cost[p.name]), "%cost-"+p.name)
		}
	}
}
