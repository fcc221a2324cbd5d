package durable_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
)

// queueDrainWorkflows is the workload: 10,000 workflows of three
// no-op steps enqueued on an unlimited queue and drained.
const queueDrainWorkflows = 10_000

// BenchmarkQueueDrain times 10,000 workflows through an unlimited queue on
// a fresh SQLite file, two ways:
//
//   - enqueue-and-drain measures what DBOS's anchor measures in queue mode:
//     from the first enqueue to the last result, the workflows enqueued one
//     after another while the queue is served;
//   - drain-only enqueues them all first and times the drain alone.
func BenchmarkQueueDrain(b *testing.B) {
	b.Run("enqueue-and-drain", func(b *testing.B) { benchQueue(b, false) })
	b.Run("drain-only", func(b *testing.B) { benchQueue(b, true) })
}

func benchQueue(b *testing.B, preEnqueue bool) {
	ctx := context.Background()
	var total float64
	for range b.N {
		b.StopTimer()
		url := newDatabaseURL(b)
		if preEnqueue {
			// Another engine, not serving the queue, enqueues them.
			producer := benchQueueEngine(b, url, false)
			benchEnqueue(b, producer)
			if err := producer.eng.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
		}
		consumer := benchQueueEngine(b, url, true)
		b.StartTimer()
		hs := make([]*durable.Handle[int], queueDrainWorkflows)
		if preEnqueue {
			for j := range hs {
				hs[j] = consumer.handle(b, j)
			}
		} else {
			hs = benchEnqueue(b, consumer)
		}
		for j, h := range hs {
			out, err := h.Result(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if out != j+3 {
				b.Fatalf("workflow %d returned %d, want %d", j, out, j+3)
			}
		}
		b.StopTimer()
		total += queueDrainWorkflows
		if err := consumer.eng.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total/b.Elapsed().Seconds(), "workflows/s")
}

type benchQueueApp struct {
	eng *durable.Engine
	wf  *durable.Workflow[int, int]
}

// benchQueueEngine launches an engine with the three-step workflow,
// serving the queue "bench" if serve is set.
func benchQueueEngine(b *testing.B, url string, serve bool) benchQueueApp {
	b.Helper()
	eng, err := durable.New(durable.Config{AppName: "bench", SystemDatabaseURL: url,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	wf, err := durable.Register(eng, "three-steps", benchThreeSteps)
	if err != nil {
		b.Fatal(err)
	}
	if serve {
		if err := durable.RegisterQueue(eng, queue.Queue{Name: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := eng.Launch(context.Background()); err != nil {
		b.Fatal(err)
	}
	return benchQueueApp{eng: eng, wf: wf}
}

// benchEnqueue enqueues workflows q-0 … q-9999 one after another.
func benchEnqueue(b *testing.B, a benchQueueApp) []*durable.Handle[int] {
	hs := make([]*durable.Handle[int], queueDrainWorkflows)
	for j := range hs {
		h, err := a.wf.Start(context.Background(), j, durable.WithQueue("bench"), durable.WithID(fmt.Sprintf("q-%d", j)))
		if err != nil {
			b.Fatal(err)
		}
		hs[j] = h
	}
	return hs
}

func (a benchQueueApp) handle(b *testing.B, j int) *durable.Handle[int] {
	h, err := a.wf.Retrieve(context.Background(), fmt.Sprintf("q-%d", j))
	if err != nil {
		b.Fatal(err)
	}
	return h
}
