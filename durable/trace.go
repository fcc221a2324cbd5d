package durable

import (
	"context"
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dboslite/dboslite/store"
)

// Tracing. An engine given a Config.TracerProvider makes a span for each
// execution of a workflow (its first run, a recovery, an adoption, a
// dequeue, a resumption after a long Sleep) and one for each step that
// runs; a replayed step did not run and has none. The trace a workflow
// is started in is stored with it as a W3C traceparent, so its runs
// continue that trace in whichever process they happen. Only the trace
// API is used here: a program that traces links the SDK and exporter of
// its choice, one that does not links neither.

// tracerName is the instrumentation scope of the engine's spans.
const tracerName = "github.com/dboslite/dboslite/durable"

// The attributes of the engine's spans.
const (
	attrWorkflowID     = attribute.Key("dboslite.workflow.id")
	attrWorkflowName   = attribute.Key("dboslite.workflow.name")
	attrWorkflowTry    = attribute.Key("dboslite.workflow.attempt") // 1 on the first run, +1 per recovery
	attrWorkflowStatus = attribute.Key("dboslite.workflow.status")
	attrStepID         = attribute.Key("dboslite.step.id")
	attrStepName       = attribute.Key("dboslite.step.name")
	attrStepTry        = attribute.Key("dboslite.step.attempt") // the attempt that ended the step
	attrStepStatus     = attribute.Key("dboslite.step.status")
)

// stepInterrupted is the status of a step span whose outcome was not
// recorded: the workflow stopped, or the database failed. The step runs
// again when the workflow does.
const stepInterrupted = "INTERRUPTED"

// newTracer returns the engine's tracer, or nil if tracing is off.
func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(tracerName)
}

// traceParent returns the W3C traceparent of the span in ctx, to store
// with a workflow started there; "" if the engine does not trace or ctx
// holds no span.
func (e *Engine) traceParent(ctx context.Context) string {
	if e.tracer == nil {
		return ""
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// parseTraceParent reads a W3C traceparent back. A value it cannot read
// is ignored (ok is false): the run then starts a trace of its own rather
// than failing over its telemetry.
func parseTraceParent(s string) (sc trace.SpanContext, ok bool) {
	parts := strings.Split(s, "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || parts[0] == "00" && len(parts) != 4 {
		return sc, false
	}
	tid, err := trace.TraceIDFromHex(parts[1])
	if err != nil {
		return sc, false
	}
	sid, err := trace.SpanIDFromHex(parts[2])
	if err != nil {
		return sc, false
	}
	flags, err := hex.DecodeString(parts[3])
	if err != nil || len(flags) != 1 {
		return sc, false
	}
	sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]), Remote: true})
	return sc, sc.IsValid()
}

// startRun starts the span of one execution of wf, a child of the span
// wf was started in; span is nil if the engine does not trace.
func (e *Engine) startRun(ctx context.Context, wf store.Workflow) (_ context.Context, span trace.Span) {
	if e.tracer == nil {
		return ctx, nil
	}
	if sc, ok := parseTraceParent(wf.TraceContext); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return e.tracer.Start(ctx, "workflow "+wf.Name, trace.WithAttributes(
		attrWorkflowID.String(wf.ID), attrWorkflowName.String(wf.Name), attrWorkflowTry.Int(wf.RecoveryAttempts)))
}

// endRun ends the span of an execution of r with the status it ended
// in: PENDING if it did not end (suspended, retrying, shut down).
func (e *Engine) endRun(span trace.Span, r *run) {
	if span == nil {
		return
	}
	status := store.StatusPending
	select {
	case <-r.done: // r's outcome is written before done closes
		status = r.status
	default:
	}
	span.SetAttributes(attrWorkflowStatus.String(string(status)))
	switch status {
	case store.StatusSuccess:
		span.SetStatus(codes.Ok, "")
	case store.StatusError:
		err := e.decodeError(r.errData)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case store.StatusCancelled, store.StatusMaxRecoveryAttemptsExceeded:
		span.SetStatus(codes.Error, string(status))
	}
	span.End()
}

// traceStep is runStep, in a span of its own if the engine traces and
// the step runs (a recorded step is replayed without one).
func traceStep[T any](ctx context.Context, st *wfState, n int, rec store.Step, recorded bool, name string, fn func(context.Context) (T, error), o stepOptions) (T, error) {
	if st.eng.tracer == nil || recorded {
		return runStep(ctx, st, n, rec, recorded, name, fn, o)
	}
	ctx, span := st.eng.tracer.Start(ctx, "step "+name, trace.WithAttributes(
		attrWorkflowID.String(st.id), attrWorkflowName.String(st.name), attrStepID.Int(n), attrStepName.String(name)))
	v, err := runStep(ctx, st, n, rec, false, name, fn, o)
	switch {
	case err == nil:
		span.SetAttributes(attrStepStatus.String(string(store.StatusSuccess)))
		span.SetStatus(codes.Ok, "")
	case st.halted() != nil || st.failure() != nil:
		span.SetAttributes(attrStepStatus.String(stepInterrupted))
		span.SetStatus(codes.Error, err.Error())
	default:
		span.SetAttributes(attrStepStatus.String(string(store.StatusError)))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return v, err
}

// traceAttempt notes attempt i (from 1) of a step on its span, and the
// error it failed with.
func (e *Engine) traceAttempt(ctx context.Context, i int, err error) {
	if e.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attrStepTry.Int(i))
	if err != nil {
		span.AddEvent("attempt failed", trace.WithAttributes(attrStepTry.Int(i), attribute.String("error", err.Error())))
	}
}
