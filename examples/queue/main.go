// Command queue shows a durable queue: at most two emails sent at once and
// at most five per second, whichever process of the app enqueued them.
//
//	go run ./examples/queue
//
// The queue lives in the system database (here a file in a temporary
// folder), so any process that registers the same queue on the same file
// shares its limits; a workflow recovered after a crash goes back through
// the queue.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "dboslite-queue")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	eng, err := durable.New(durable.Config{AppName: "mailer", SystemDatabaseURL: "sqlite:" + filepath.Join(dir, "mailer.sqlite")})
	if err != nil {
		return err
	}
	start := time.Now()
	send, err := durable.Register(eng, "send-email", func(ctx context.Context, to string) (string, error) {
		return durable.Step(ctx, "smtp", func(ctx context.Context) (string, error) {
			fmt.Printf("%6.2fs  sending to %s\n", time.Since(start).Seconds(), to)
			time.Sleep(100 * time.Millisecond) // talking to the mail server
			return "sent to " + to, nil
		})
	})
	if err != nil {
		return err
	}
	// Register the queue in every process that should run its workflows.
	if err := durable.RegisterQueue(eng, queue.Queue{
		Name:              "email",
		GlobalConcurrency: 2,                                               // across all processes
		RateLimit:         &queue.RateLimit{Limit: 5, Period: time.Second}, // starts per second
	}); err != nil {
		return err
	}
	if err := eng.Launch(ctx); err != nil {
		return err
	}
	defer eng.Shutdown(ctx)

	var handles []*durable.Handle[string]
	for i := range 8 {
		to := fmt.Sprintf("user%d@example.com", i)
		opts := []durable.StartOption{
			durable.WithQueue("email"),
			durable.WithDeduplicationID(to), // one pending email per address
		}
		h, err := send.Start(ctx, to, opts...)
		if err != nil {
			return err
		}
		handles = append(handles, h)
	}
	// A second email to user0 while the first is still queued is refused.
	_, err = send.Start(ctx, "user0@example.com", durable.WithQueue("email"), durable.WithDeduplicationID("user0@example.com"))
	var dup *durable.DeduplicatedError
	if errors.As(err, &dup) {
		fmt.Printf("deduplicated: %s already holds %q\n", dup.ExistingID, dup.DeduplicationID)
	}

	for _, h := range handles {
		out, err := h.Result(ctx) // waits for whichever process runs it
		if err != nil {
			return err
		}
		fmt.Println(out)
	}
	return nil
}
