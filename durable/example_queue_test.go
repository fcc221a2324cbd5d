package durable_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
)

func ExampleRegisterQueue() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "mailer", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	send, err := durable.Register(eng, "send", func(ctx context.Context, to string) (string, error) {
		return durable.Step(ctx, "smtp", func(ctx context.Context) (string, error) { return "sent to " + to, nil })
	})
	if err != nil {
		log.Fatal(err)
	}
	err = durable.RegisterQueue(eng, queue.Queue{
		Name:              "email",
		GlobalConcurrency: 5,                                                // at most 5 at once, across processes
		RateLimit:         &queue.RateLimit{Limit: 10, Period: time.Second}, // at most 10 starts a second
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)

	// Start with WithQueue enqueues: it returns at once, and the queue runs
	// the workflow when its limits allow, here not before 200ms.
	h, err := send.Start(ctx, "ada@example.com", durable.WithQueue("email"),
		durable.WithDeduplicationID("ada"), durable.WithPriority(1), durable.WithDelay(200*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	// While it is queued or running, its deduplication ID is taken.
	_, err = send.Start(ctx, "ada@example.com", durable.WithQueue("email"), durable.WithDeduplicationID("ada"))
	fmt.Println(errors.Is(err, durable.ErrDeduplicated))

	out, err := h.Result(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	// Output:
	// true
	// sent to ada@example.com
}
