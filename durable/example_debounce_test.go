package durable_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/dboslite/dboslite/durable"
)

func ExampleNewDebouncer() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "indexer", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	reindex, err := durable.Register(eng, "reindex", func(ctx context.Context, doc string) (string, error) {
		return durable.Step(ctx, "index", func(ctx context.Context) (string, error) { return "indexed " + doc, nil })
	})
	if err != nil {
		log.Fatal(err)
	}
	// Reindex a document once edits to it pause for 100ms, and at most
	// 2s after the first edit however fast they come.
	debouncer, err := durable.NewDebouncer(eng, reindex, 100*time.Millisecond, durable.WithDebounceTimeout(2*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)

	var h *durable.DebounceHandle[string]
	for _, version := range []string{"draft v1", "draft v2", "draft v3"} {
		// Every call of the burst names the same workflow, not started yet.
		if h, err = debouncer.Debounce(ctx, "doc-42", version); err != nil {
			log.Fatal(err)
		}
	}
	out, err := h.Result(ctx) // the one run, with the last input
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	// Output:
	// indexed draft v3
}
