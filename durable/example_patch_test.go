package durable_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dboslite/dboslite/durable"
)

// ship is the "ship" workflow of two releases. Release 1 ships by
// ground. Release 2 ships new orders by air: Patch sends the orders that
// release 1 had already shipped down the old path, so they replay their
// records as they were.
func ship(release int, deliver func(ctx context.Context) (string, error)) func(context.Context, string) (string, error) {
	return func(ctx context.Context, order string) (string, error) {
		if _, err := durable.Step(ctx, "pack", func(ctx context.Context) (string, error) { return "packed", nil }); err != nil {
			return "", err
		}
		how := "ground"
		if release >= 2 {
			byAir, err := durable.Patch(ctx, "ship-by-air")
			if err != nil {
				return "", err
			}
			if byAir {
				how = "air"
			}
		}
		if _, err := durable.Step(ctx, "ship-by-"+how, func(ctx context.Context) (string, error) { return how, nil }); err != nil {
			return "", err
		}
		done, err := durable.Step(ctx, "deliver", deliver)
		return fmt.Sprintf("%s: by %s, %s", order, how, done), err
	}
}

// Release 1 stops with order-1 shipped but not delivered; release 2 takes
// it over on the old path and runs order-2 on the new one.
func ExamplePatch() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "patch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := durable.Config{AppName: "shop", SystemDatabaseURL: "sqlite:" + filepath.Join(dir, "shop.sqlite")}

	// Release 1: delivering waits until the engine stops.
	inFlight := make(chan struct{})
	eng1, err := durable.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ship1, err := durable.Register(eng1, "ship", ship(1, func(ctx context.Context) (string, error) {
		close(inFlight)
		<-ctx.Done()
		return "", ctx.Err()
	}))
	if err != nil {
		log.Fatal(err)
	}
	if err := eng1.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := ship1.Start(ctx, "order-1", durable.WithID("order-1")); err != nil {
		log.Fatal(err)
	}
	<-inFlight
	eng1.Shutdown(ctx) // order-1 stays PENDING

	// Release 2, same name and application version: Launch recovers order-1.
	eng2, err := durable.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ship2, err := durable.Register(eng2, "ship", ship(2, func(ctx context.Context) (string, error) { return "delivered", nil }))
	if err != nil {
		log.Fatal(err)
	}
	if err := eng2.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng2.Shutdown(ctx)
	h, err := ship2.Retrieve(ctx, "order-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Result(ctx))
	fmt.Println(ship2.Run(ctx, "order-2", durable.WithID("order-2")))
	steps, err := eng2.Steps(ctx, "order-2")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range steps {
		fmt.Println(s.StepID, s.Name, s.Internal)
	}
	// Output:
	// order-1: by ground, delivered <nil>
	// order-2: by air, delivered <nil>
	// 1 pack false
	// 2 durable.patch-ship-by-air true
	// 3 ship-by-air false
	// 4 deliver false
}
