package durable_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/dboslite/dboslite/durable"
)

var errDeclinedCard = errors.New("card declined")

// PaymentError is an error type whose fields a workflow reads.
type PaymentError struct {
	Code  string
	Retry bool
}

func (e *PaymentError) Error() string { return "payment failed: " + e.Code }

// A workflow that branches on a step's error takes the same branch after a
// crash: register the sentinels and error types it branches on.
func ExampleRegisterError() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "shop", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	if err := durable.RegisterError(eng, "shop.declined", errDeclinedCard); err != nil {
		log.Fatal(err)
	}
	if err := durable.RegisterErrorType[*PaymentError](eng, "shop.PaymentError"); err != nil {
		log.Fatal(err)
	}
	checkout, err := durable.Register(eng, "checkout", func(ctx context.Context, card string) (string, error) {
		_, err := durable.Step(ctx, "charge", func(ctx context.Context) (int, error) {
			return 0, fmt.Errorf("charge %s: %w", card, errors.Join(errDeclinedCard, &PaymentError{Code: "51", Retry: true}))
		})
		var pe *PaymentError
		switch {
		case errors.Is(err, errDeclinedCard) && errors.As(err, &pe):
			// Read back from the step's record, on the first run as on a
			// replay: the branch is the same either way.
			return fmt.Sprintf("declined (code %s, retry %v): %v", pe.Code, pe.Retry, err), nil
		case err != nil:
			return "", err
		}
		return "paid", nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)
	out, err := checkout.Run(ctx, "4000-0000")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	// Output:
	// declined (code 51, retry true): charge 4000-0000: card declined
	// payment failed: 51
}

// Go fans out: each call takes its step number at once, in call order, so
// the steps replay in the same places whatever order they finish in.
func ExampleGo() {
	ctx := context.Background()
	eng, err := durable.New(durable.Config{AppName: "fan", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	sizes, err := durable.Register(eng, "sizes", func(ctx context.Context, urls []string) (int, error) {
		futures := make([]*durable.Future[int], len(urls))
		for i, u := range urls {
			futures[i] = durable.Go(ctx, "fetch", func(ctx context.Context) (int, error) {
				return len(u), nil // stands for fetching u
			})
		}
		total := 0
		for _, f := range futures {
			n, err := f.Wait(ctx)
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)
	total, err := sizes.Run(ctx, []string{"a.example", "bb.example", "ccc.example"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(total)
	// Output: 30
}
