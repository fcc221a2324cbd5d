package durable_test

import (
	"context"
	"fmt"
	"log"
	"strings"

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
