package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// tracing returns a tracer provider that exports every span, as it ends,
// to the returned in-memory exporter: one per process of the test.
func tracing(t *testing.T) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return exp, tp
}

func withTracing(tp trace.TracerProvider) func(*durable.Config) {
	return func(c *durable.Config) { c.TracerProvider = tp }
}

// named returns the exported spans called name.
func named(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// only returns the one exported span called name.
func only(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	spans := named(exp, name)
	if len(spans) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(spans), name)
	}
	return spans[0]
}

// attrs returns a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestTracingSpansEachRunAndStep(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	exp, tp := tracing(t)
	e := v.engine(withTracing(tp))
	tries := 0
	wf := register(t, e, "traced", func(ctx context.Context, in string) (string, error) {
		a, err := durable.Step(ctx, "first", func(ctx context.Context) (string, error) { return in + "1", nil })
		if err != nil {
			return "", err
		}
		return durable.Step(ctx, "flaky", func(ctx context.Context) (string, error) {
			if tries++; tries == 1 {
				return "", errors.New("not yet")
			}
			return a + "2", nil
		}, durable.WithRetries(durable.RetryPolicy{MaxAttempts: 3, Interval: time.Millisecond}))
	})
	failing := register(t, e, "failing", func(ctx context.Context, in string) (string, error) {
		return durable.Step(ctx, "boom", func(ctx context.Context) (string, error) { return "", errors.New("boom") })
	})
	launch(t, e)

	ctx, root := tp.Tracer("test").Start(context.Background(), "request")
	out, err := wf.Run(ctx, "x", durable.WithID("w"))
	is.NoErr(err)
	is.Equal(out, "x12")
	_, err = failing.Run(ctx, "y", durable.WithID("f"))
	is.True(err != nil) // the workflow fails
	root.End()
	is.NoErr(e.Shutdown(context.Background())) // every run's span has ended

	run := only(t, exp, "workflow traced")
	is.Equal(run.SpanContext.TraceID(), root.SpanContext().TraceID()) // in the trace it was started in
	is.Equal(run.Parent.SpanID(), root.SpanContext().SpanID())        // under the span it was started in
	a := attrs(run)
	is.Equal(a["dboslite.workflow.id"].AsString(), "w")
	is.Equal(a["dboslite.workflow.name"].AsString(), "traced")
	is.Equal(a["dboslite.workflow.attempt"].AsInt64(), int64(1)) // the first run
	is.Equal(a["dboslite.workflow.status"].AsString(), "SUCCESS")
	is.Equal(run.Status.Code, codes.Ok)

	first := only(t, exp, "step first")
	is.Equal(first.Parent.SpanID(), run.SpanContext.SpanID()) // a step is a child of its run
	a = attrs(first)
	is.Equal(a["dboslite.workflow.id"].AsString(), "w")
	is.Equal(a["dboslite.step.id"].AsInt64(), int64(1))
	is.Equal(a["dboslite.step.name"].AsString(), "first")
	is.Equal(a["dboslite.step.attempt"].AsInt64(), int64(1))
	is.Equal(a["dboslite.step.status"].AsString(), "SUCCESS")

	flaky := only(t, exp, "step flaky")
	a = attrs(flaky)
	is.Equal(a["dboslite.step.id"].AsInt64(), int64(2))
	is.Equal(a["dboslite.step.attempt"].AsInt64(), int64(2)) // succeeded at the second attempt
	is.Equal(len(flaky.Events), 1)                           // the failed attempt
	is.Equal(flaky.Events[0].Name, "attempt failed")

	failed := only(t, exp, "workflow failing")
	is.Equal(attrs(failed)["dboslite.workflow.status"].AsString(), "ERROR")
	is.Equal(failed.Status.Code, codes.Error)
	is.True(strings.Contains(failed.Status.Description, "boom")) // says why
	boom := only(t, exp, "step boom")
	is.Equal(attrs(boom)["dboslite.step.status"].AsString(), "ERROR")
	is.Equal(boom.Status.Code, codes.Error)

	stored := v.workflow("w").TraceContext
	is.True(strings.Contains(stored, root.SpanContext().TraceID().String())) // the trace is stored with the workflow
}

func TestTracingContinuesTheTraceAfterARestart(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter

	// The first process records the workflow and two steps, then dies.
	exp1, tp1 := tracing(t)
	e1 := v.crashing(3, withTracing(tp1))
	wf1 := register(t, e1, "five", fiveSteps(&calls))
	launch(t, e1)
	ctx, root := tp1.Tracer("test").Start(context.Background(), "request")
	err := v.untilCrash(e1, func() error { _, err := wf1.Run(ctx, "x", durable.WithID("w")); return err })
	root.End()
	is.True(errors.Is(err, durable.ErrShutdown)) // the crash interrupted it
	runs := named(exp1, "workflow five")
	is.True(len(runs) > 0) // it ran
	for _, r := range runs {
		is.Equal(attrs(r)["dboslite.workflow.status"].AsString(), "PENDING") // and did not end
	}
	is.Equal(attrs(only(t, exp1, "step s3"))["dboslite.step.status"].AsString(), "INTERRUPTED") // its record was refused

	// The next process, with a tracer of its own, recovers it.
	exp2, tp2 := tracing(t)
	e2 := v.engine(withTracing(tp2))
	wf2 := register(t, e2, "five", fiveSteps(&calls))
	launch(t, e2)
	h, err := wf2.Retrieve(context.Background(), "w")
	is.NoErr(err)
	got, err := h.Result(context.Background())
	is.NoErr(err)
	is.Equal(got, "x+s1+s2+s3+s4+s5")
	is.NoErr(e2.Shutdown(context.Background()))

	again := only(t, exp2, "workflow five")
	is.Equal(again.SpanContext.TraceID(), root.SpanContext().TraceID())     // the same trace
	is.Equal(again.Parent.SpanID(), root.SpanContext().SpanID())            // under the span it was started in
	is.True(again.Parent.IsRemote())                                        // which another process made
	is.Equal(attrs(again)["dboslite.workflow.attempt"].AsInt64(), int64(2)) // a recovery
	is.Equal(attrs(again)["dboslite.workflow.status"].AsString(), "SUCCESS")
	is.Equal(len(named(exp2, "step s1")), 0) // replayed steps did not run: no span
	is.Equal(len(named(exp2, "step s2")), 0)
	for _, name := range []string{"step s3", "step s4", "step s5"} {
		s := only(t, exp2, name)
		is.Equal(s.Parent.SpanID(), again.SpanContext.SpanID()) // the steps that ran, under the recovered run
	}
}

func TestTracingChildAndQueuedWorkflowsJoinTheTrace(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	exp, tp := tracing(t)
	e := v.engine(withTracing(tp))
	is.NoErr(durable.RegisterQueue(e, queue.Queue{Name: "q"}))
	child := register(t, e, "child", func(ctx context.Context, in string) (string, error) {
		return durable.Step(ctx, "c", func(ctx context.Context) (string, error) { return in, nil })
	})
	parent := register(t, e, "parent", func(ctx context.Context, in string) (string, error) {
		a, err := child.Run(ctx, in+"a")
		if err != nil {
			return "", err
		}
		h, err := child.Start(ctx, in+"b", durable.WithQueue("q"))
		if err != nil {
			return "", err
		}
		b, err := h.Result(ctx)
		return a + b, err
	})
	launch(t, e)
	ctx, root := tp.Tracer("test").Start(context.Background(), "request")
	out, err := parent.Run(ctx, "x", durable.WithID("p"))
	is.NoErr(err)
	is.Equal(out, "xaxb")
	root.End()

	// A client that traces enqueues in its caller's trace.
	c, err := durable.NewClient(context.Background(), durable.ClientConfig{SystemDatabaseURL: v.url, TracerProvider: tp})
	is.NoErr(err)
	defer c.Close()
	cctx, croot := tp.Tracer("test").Start(context.Background(), "client request")
	h, err := durable.Enqueue[string](cctx, c, "q", "child", "y", durable.WithID("from-client"))
	is.NoErr(err)
	got, err := h.Result(context.Background())
	is.NoErr(err)
	is.Equal(got, "y")
	croot.End()
	is.NoErr(e.Shutdown(context.Background()))

	p := only(t, exp, "workflow parent")
	children := named(exp, "workflow child")
	is.Equal(len(children), 3) // the child, the queued child, the client's
	queued := 0
	for _, s := range children {
		if attrs(s)["dboslite.workflow.id"].AsString() == "from-client" {
			is.Equal(s.SpanContext.TraceID(), croot.SpanContext().TraceID()) // the client's caller's trace
			is.Equal(s.Parent.SpanID(), croot.SpanContext().SpanID())
			continue
		}
		is.Equal(s.SpanContext.TraceID(), root.SpanContext().TraceID()) // the parent's trace
		is.Equal(s.Parent.SpanID(), p.SpanContext.SpanID())             // under the parent's run
		if v.workflow(attrs(s)["dboslite.workflow.id"].AsString()).QueueName == "q" {
			queued++
		}
	}
	is.Equal(queued, 1) // one of them went through the queue
}

func TestTracingOffRecordsAndStoresNothing(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	exp, tp := tracing(t) // the caller traces; the engine does not
	e := v.engine()
	wf := register(t, e, "plain", func(ctx context.Context, in string) (string, error) {
		return durable.Step(ctx, "s", func(ctx context.Context) (string, error) { return in, nil })
	})
	launch(t, e)
	ctx, root := tp.Tracer("test").Start(context.Background(), "request")
	_, err := wf.Run(ctx, "x", durable.WithID("w"))
	is.NoErr(err)
	root.End()
	is.NoErr(e.Shutdown(context.Background()))
	is.Equal(len(exp.GetSpans()), 1)                      // only the caller's own span
	is.Equal(exp.GetSpans()[0].Name, "request")           // which is that one
	is.Equal(v.workflow("w").TraceContext, "")            // nothing stored
	is.Equal(v.workflow("w").Status, store.StatusSuccess) // and the workflow ran
}

func TestTracingAnUntracedStartIsARootAndStoresNothing(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	exp, tp := tracing(t)
	e := v.engine(withTracing(tp))
	wf := register(t, e, "plain", func(ctx context.Context, in string) (string, error) {
		return durable.Step(ctx, "s", func(ctx context.Context) (string, error) { return in, nil })
	})
	launch(t, e)
	_, err := wf.Run(context.Background(), "x", durable.WithID("w"))
	is.NoErr(err)
	is.NoErr(e.Shutdown(context.Background()))
	run := only(t, exp, "workflow plain")
	is.True(!run.Parent.IsValid())                                             // a trace of its own
	is.Equal(only(t, exp, "step s").Parent.SpanID(), run.SpanContext.SpanID()) // with its step
	is.Equal(v.workflow("w").TraceContext, "")                                 // no trace to continue was stored
}

// A stored trace context that cannot be read (written by another tool,
// say) costs the workflow nothing: its run starts a trace of its own.
func TestTracingIgnoresAnUnreadableTraceContext(t *testing.T) {
	for _, bad := range []string{"garbage", "00-xyz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		t.Run(bad, func(t *testing.T) {
			is := is.New(t)
			v := setup(t)
			v.orphan("w", "plain", `"x"`, func(p *store.WorkflowCreateParams) { p.TraceContext = bad })
			exp, tp := tracing(t)
			e := v.engine(withTracing(tp))
			wf := register(t, e, "plain", func(ctx context.Context, in string) (string, error) {
				return durable.Step(ctx, "s", func(ctx context.Context) (string, error) { return in, nil })
			})
			launch(t, e) // recovers the orphan
			h, err := wf.Retrieve(context.Background(), "w")
			is.NoErr(err)
			got, err := h.Result(context.Background())
			is.NoErr(err) // the workflow runs
			is.Equal(got, "x")
			is.NoErr(e.Shutdown(context.Background()))
			is.True(!only(t, exp, "workflow plain").Parent.IsValid()) // in a trace of its own
		})
	}
}

// A step started with Go has a span too, under its workflow's run.
func TestTracingSpansConcurrentSteps(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	exp, tp := tracing(t)
	e := v.engine(withTracing(tp))
	wf := register(t, e, "fan", func(ctx context.Context, in string) (string, error) {
		a := durable.Go(ctx, "a", func(ctx context.Context) (string, error) { return in + "a", nil })
		b := durable.Go(ctx, "b", func(ctx context.Context) (string, error) { return in + "b", nil })
		x, err := a.Wait(ctx)
		if err != nil {
			return "", err
		}
		y, err := b.Wait(ctx)
		return x + y, err
	})
	launch(t, e)
	out, err := wf.Run(context.Background(), "x")
	is.NoErr(err)
	is.Equal(out, "xaxb")
	is.NoErr(e.Shutdown(context.Background()))
	run := only(t, exp, "workflow fan")
	for i, name := range []string{"step a", "step b"} {
		s := only(t, exp, name)
		is.Equal(s.Parent.SpanID(), run.SpanContext.SpanID())        // under the run
		is.Equal(attrs(s)["dboslite.step.id"].AsInt64(), int64(i+1)) // numbered as called
		is.Equal(attrs(s)["dboslite.step.status"].AsString(), "SUCCESS")
	}
}
