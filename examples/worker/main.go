// Command worker serves the queue "reports": it runs the "report"
// workflows that other programs enqueue, such as examples/client, until
// it is stopped with Ctrl-C. Several copies may run at once, on one
// SQLite file or, with a postgres:// URL, on several machines.
//
//	go run ./examples/worker -db sqlite:reports.sqlite &
//	go run ./examples/client -db sqlite:reports.sqlite mon tue wed
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	_ "github.com/dboslite/dboslite/store/postgres" // postgres:// URLs too
)

func main() {
	db := flag.String("db", "sqlite:reports.sqlite", "system database URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *db); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, db string) error {
	eng, err := durable.New(durable.Config{AppName: "reports", SystemDatabaseURL: db})
	if err != nil {
		return err
	}
	if _, err := durable.Register(eng, "report", report); err != nil {
		return err
	}
	if err := durable.RegisterQueue(eng, queue.Queue{Name: "reports", WorkerConcurrency: 4}); err != nil {
		return err
	}
	if err := eng.Launch(ctx); err != nil {
		return err
	}
	fmt.Println("ready: serving the queue \"reports\"; Ctrl-C to stop")
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return eng.Shutdown(shutdown)
}

// report is the workflow: two steps, each checkpointed.
func report(ctx context.Context, day string) (string, error) {
	rows, err := durable.Step(ctx, "query", func(ctx context.Context) (int, error) {
		return 10 * len(day), nil // stands for a database query
	})
	if err != nil {
		return "", err
	}
	return durable.Step(ctx, "render", func(ctx context.Context) (string, error) {
		return fmt.Sprintf("report for %s: %d rows (pid %d)", strings.ToUpper(day), rows, os.Getpid()), nil
	})
}
