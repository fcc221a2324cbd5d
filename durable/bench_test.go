package durable_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dboslite/dboslite/durable"
)

// The benchmark workload matches the DBOS anchor's: a workflow of three
// no-op steps, each returning 1, on a SQLite file with default settings.

func benchNoop(context.Context) (int, error) { return 1, nil }

func benchThreeSteps(ctx context.Context, n int) (int, error) {
	sum := 0
	for _, name := range []string{"one", "two", "three"} {
		v, err := durable.Step(ctx, name, benchNoop)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum + n, nil
}

// benchEngine launches an engine on a new database of the backend under
// test (see backend_test.go) with the
// three-step workflow registered; it shuts down when the benchmark ends.
func benchEngine(b *testing.B) *durable.Workflow[int, int] {
	b.Helper()
	eng, err := durable.New(durable.Config{
		AppName:           "bench",
		SystemDatabaseURL: newDatabaseURL(b),
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	wf, err := durable.Register(eng, "three-steps", benchThreeSteps)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Launch(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := eng.Shutdown(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return wf
}

func BenchmarkWorkflowSequential(b *testing.B) {
	wf := benchEngine(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		out, err := wf.Run(ctx, i, durable.WithID(fmt.Sprintf("seq-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		if out != i+3 {
			b.Fatalf("workflow %d returned %d, want %d", i, out, i+3)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "workflows/s")
}

func BenchmarkWorkflowConcurrent64(b *testing.B) {
	const inFlight = 64
	wf := benchEngine(b)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				out, err := wf.Run(ctx, i, durable.WithID(fmt.Sprintf("conc-%d", i)))
				if err != nil {
					b.Error(err)
					return
				}
				if out != i+3 {
					b.Errorf("workflow %d returned %d, want %d", i, out, i+3)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "workflows/s")
}
