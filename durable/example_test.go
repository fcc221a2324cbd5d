package durable_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// A workflow of two steps: each step's result is recorded, so after a
// crash the workflow resumes after its last recorded step. Use a file URL
// such as "sqlite:app.sqlite" to keep the records across runs.
func Example() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "greeter", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	greet, err := durable.Register(eng, "greet", func(ctx context.Context, name string) (string, error) {
		upper, err := durable.Step(ctx, "upper", func(ctx context.Context) (string, error) {
			return strings.ToUpper(name), nil
		})
		if err != nil {
			return "", err
		}
		return durable.Step(ctx, "greet", func(ctx context.Context) (string, error) {
			return "hello, " + upper, nil
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)

	out, err := greet.Run(ctx, "ada", durable.WithID("greet-ada"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)

	steps, err := eng.Store().Steps(ctx, "greet-ada")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range steps {
		fmt.Printf("step %d %q recorded %s\n", s.StepID, s.Name, s.Output)
	}
	// Output:
	// hello, ADA
	// step 1 "upper" recorded "ADA"
	// step 2 "greet" recorded "hello, ADA"
}

// A workflow waits durably for a message, reports progress through an
// event, and sleeps; the caller answers from outside the workflow.
func Example_messages() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "approvals", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	approve, err := durable.Register(eng, "approve", func(ctx context.Context, doc string) (string, error) {
		if err := durable.SetEvent(ctx, "status", "waiting for a decision"); err != nil {
			return "", err
		}
		decision, err := durable.Recv[string](ctx, "decision", time.Hour)
		if errors.Is(err, durable.ErrTimeout) {
			return doc + ": no decision within an hour", nil
		}
		if err != nil {
			return "", err
		}
		if err := durable.Sleep(ctx, 10*time.Millisecond); err != nil { // durable: survives a restart
			return "", err
		}
		return doc + ": " + decision, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)

	h, err := approve.Start(ctx, "invoice-17", durable.WithID("approve-invoice-17"))
	if err != nil {
		log.Fatal(err)
	}
	status, err := durable.GetEvent[string](ctx, eng, h.ID(), "status", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status)
	if err := eng.Send(ctx, h.ID(), "decision", "approved"); err != nil {
		log.Fatal(err)
	}
	out, err := h.Result(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	// Output:
	// waiting for a decision
	// invoice-17: approved
}
