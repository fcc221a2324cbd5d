package durable_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
)

func newBenchEngine(b *testing.B, url string, change ...func(*durable.Config)) *durable.Engine {
	b.Helper()
	cfg := durable.Config{AppName: "bench", SystemDatabaseURL: url, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, c := range change {
		c(&cfg)
	}
	e, err := durable.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

// BenchmarkSendRecv measures the round trip of a message sent from outside
// to a workflow waiting in Recv, which answers with an event.
func BenchmarkSendRecv(b *testing.B) {
	for _, mode := range []string{"one-engine", "two-engines"} {
		b.Run(mode, func(b *testing.B) {
			url := newDatabaseURL(b)
			e := newBenchEngine(b, url)
			echo, err := durable.Register(e, "echo", func(ctx context.Context, n int) (int, error) {
				for i := range n {
					if _, err := durable.Recv[int](ctx, "ping", time.Minute); err != nil {
						return 0, err
					}
					if err := durable.SetEvent(ctx, fmt.Sprint("pong-", i), i); err != nil {
						return 0, err
					}
				}
				return n, nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := e.Launch(context.Background()); err != nil {
				b.Fatal(err)
			}
			sender := e
			if mode == "two-engines" {
				// Its own store: its own connections, as another process has.
				sender = newBenchEngine(b, url, func(c *durable.Config) { c.ExecutorID = "sender" })
				if err := sender.Launch(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			h, err := echo.Start(ctx, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := sender.Send(ctx, h.ID(), "ping", i); err != nil {
					b.Fatal(err)
				}
				got, err := durable.GetEvent[int](ctx, sender, h.ID(), fmt.Sprint("pong-", i), time.Minute)
				if err != nil || got != i {
					b.Fatal(got, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
			if _, err := h.Result(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkSleepers starts N workflows that each record a step and sleep an
// hour, and reports the process's resident memory once all sleep. Run it
// once: go test -run '^$' -bench Sleepers -benchtime 1x ./durable/
func BenchmarkSleepers(b *testing.B) {
	for _, c := range []struct {
		n       int
		suspend time.Duration
	}{{10_000, -1}, {10_000, 0}, {100_000, 0}} {
		name := fmt.Sprintf("%dk/goroutines", c.n/1000)
		if c.suspend == 0 {
			name = fmt.Sprintf("%dk/suspended", c.n/1000)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				runSleepers(b, c.n, c.suspend)
			}
		})
	}
}

func runSleepers(b *testing.B, n int, suspend time.Duration) {
	url := newDatabaseURL(b)
	e := newBenchEngine(b, url, func(c *durable.Config) { c.SuspendSleepsOver = suspend })
	asleep := make(chan struct{}, n)
	wf, err := durable.Register(e, "sleeper", func(ctx context.Context, i int) (int, error) {
		if _, err := durable.Step(ctx, "noop", func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
			return 0, err
		}
		asleep <- struct{}{}
		if err := durable.Sleep(ctx, time.Hour); err != nil {
			return 0, err
		}
		return i, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Launch(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := wf.Start(context.Background(), i); err != nil {
			b.Fatal(err)
		}
	}
	for range n {
		<-asleep
	}
	// Let the last sleep steps land, then measure as the DBOS anchor does.
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	b.ReportMetric(rssMB(), "MB-RSS")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
	b.ReportMetric(float64(ms.StackInuse)/(1<<20), "MB-stack")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
}

// rssMB reads the process's resident set size.
func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// BenchmarkIdleEngine reports the CPU an engine with nothing to do uses in
// ten seconds: with no workflow at all, with one workflow waiting in Recv
// (so the cross-process poll runs) and one suspended in a sleep, and with
// an empty queue registered (its dispatcher watches for other processes'
// enqueues). Run it once: go test -run '^$' -bench Idle -benchtime 1x ./durable/
func BenchmarkIdleEngine(b *testing.B) {
	for _, c := range []struct {
		name           string
		waiting, queue bool
	}{{"nothing", false, false}, {"waiting", true, false}, {"queue", false, true}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				idle(b, c.waiting, c.queue)
			}
		})
	}
}

func idle(b *testing.B, waiting, withQueue bool) {
	url := newDatabaseURL(b)
	e := newBenchEngine(b, url)
	if withQueue {
		if err := durable.RegisterQueue(e, queue.Queue{Name: "idle"}); err != nil {
			b.Fatal(err)
		}
	}
	waiter, err := durable.Register(e, "waiter", func(ctx context.Context, _ int) (int, error) {
		if _, err := durable.Recv[int](ctx, "never", time.Hour); err != nil {
			return 0, err
		}
		return 0, durable.Sleep(ctx, time.Hour)
	})
	if err != nil {
		b.Fatal(err)
	}
	sleeper, err := durable.Register(e, "sleeper", func(ctx context.Context, _ int) (int, error) {
		return 0, durable.Sleep(ctx, time.Hour)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Launch(context.Background()); err != nil {
		b.Fatal(err)
	}
	if waiting {
		if _, err := waiter.Start(context.Background(), 0); err != nil {
			b.Fatal(err)
		}
		if _, err := sleeper.Start(context.Background(), 0); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(time.Second) // settle
	before := cpuTime()
	time.Sleep(10 * time.Second)
	used := cpuTime() - before
	b.ReportMetric(float64(used.Microseconds())/1000, "cpu-ms/10s")
	b.ReportMetric(100*used.Seconds()/10, "%cpu")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
