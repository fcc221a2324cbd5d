// Command client enqueues "report" workflows by name on the queue
// "reports" of an application's system database, and waits for their
// results, through a durable.Client: it runs no workflow itself and never
// creates the database, so start examples/worker first.
//
//	go run ./examples/worker -db sqlite:reports.sqlite &
//	go run ./examples/client -db sqlite:reports.sqlite mon tue wed
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/dboslite/dboslite/durable"
	_ "github.com/dboslite/dboslite/store/postgres" // postgres:// URLs too
)

func main() {
	db := flag.String("db", "sqlite:reports.sqlite", "the application's system database URL")
	flag.Parse()
	days := flag.Args()
	if len(days) == 0 {
		days = []string{"mon"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *db, days); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, db string, days []string) error {
	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: db})
	if err != nil {
		return err
	}
	defer c.Close()
	var handles []*durable.Handle[string]
	for _, day := range days {
		// The ID makes the enqueue idempotent: running the client twice
		// asks for each report once.
		h, err := durable.Enqueue[string](ctx, c, "reports", "report", day, durable.WithID("report-"+day))
		if err != nil {
			return err
		}
		handles = append(handles, h)
	}
	for _, h := range handles {
		out, err := h.Result(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", h.ID(), err)
		}
		fmt.Println(out)
	}
	return nil
}
