package durable_test

import (
	"context"
	"fmt"
	"log"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dboslite/dboslite/durable"
)

func ExampleConfig_tracing() {
	ctx := context.Background()
	// A real program batches its spans to an exporter (OTLP, say); this
	// one keeps them in memory to print them.
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)

	eng, err := durable.New(durable.Config{AppName: "shop", SystemDatabaseURL: "sqlite::memory:", TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	checkout, err := durable.Register(eng, "checkout", func(ctx context.Context, order string) (string, error) {
		if _, err := durable.Step(ctx, "reserve", func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
			return "", err
		}
		return durable.Step(ctx, "charge", func(ctx context.Context) (string, error) { return order + " paid", nil })
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}

	// The workflow's runs join the trace of the context it is started in,
	// even a run after a restart, in another process.
	ctx, request := tp.Tracer("shop").Start(ctx, "POST /checkout")
	out, err := checkout.Run(ctx, "order-1")
	if err != nil {
		log.Fatal(err)
	}
	request.End()
	if err := eng.Shutdown(ctx); err != nil { // every run's span has ended
		log.Fatal(err)
	}
	fmt.Println(out)
	for _, s := range spans.GetSpans() {
		if s.Name != "POST /checkout" {
			fmt.Println(s.Name, "in the request's trace:", s.SpanContext.TraceID() == request.SpanContext().TraceID())
		}
	}
	// Output:
	// order-1 paid
	// step reserve in the request's trace: true
	// step charge in the request's trace: true
	// workflow checkout in the request's trace: true
}
