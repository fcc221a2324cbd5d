package durabletest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/durabletest"
)

// shipping is the workflow under test: it reserves an item, mails the
// customer and confirms. Registering it in a function of its own lets
// the program and its tests share it.
func shipping(e *durable.Engine) (*durable.Workflow[string, string], error) {
	return durable.Register(e, "ship", func(ctx context.Context, item string) (string, error) {
		id, err := durable.Step(ctx, "reserve", func(context.Context) (string, error) { return "R-" + item, nil })
		if err != nil {
			return "", err
		}
		if _, err := durable.Step(ctx, "mail", func(context.Context) (bool, error) { return true, nil }); err != nil {
			return "", err
		}
		return durable.Step(ctx, "confirm", func(context.Context) (string, error) { return id + " shipped", nil })
	})
}

// The test the README shows.
func TestShippingSurvivesCrashes(t *testing.T) {
	is := is.New(t)
	// shipping registers the workflow under test on an engine:
	// func(*durable.Engine) (*durable.Workflow[string, string], error).
	durabletest.CrashEveryStep(t, shipping, "book") // fails t unless every recovery ends as a clean run does

	r, err := durabletest.CrashAt(t, shipping, "book", 2) // die as step 2 is recorded
	is.NoErr(err)
	is.Equal(r.Output, "R-book shipped")
	is.Equal(r.Repeated(), []durabletest.StepRuns{{ID: 2, Name: "mail", Runs: 2}}) // the mail went out twice
}

// An engine on a temporary database, removed with the test.
func Example() {
	t := newExampleT() // in a test: the *testing.T
	defer t.end()

	e := durabletest.New(t)
	ship, err := shipping(e)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	durabletest.Launch(t, e)
	out, err := ship.Run(context.Background(), "book")
	fmt.Println(out, err)
	// Output: R-book shipped <nil>
}

// The same in one call: an engine with the workflow registered, launched.
func ExampleNewWorkflow() {
	t := newExampleT() // in a test: the *testing.T
	defer t.end()

	ship := durabletest.NewWorkflow(t, shipping)
	out, err := ship.Run(context.Background(), "pen")
	fmt.Println(out, err)
	// Output: R-pen shipped <nil>
}

// Kill the workflow at its second step, restart, and see what ran twice.
func ExampleCrashAt() {
	t := newExampleT() // in a test: the *testing.T
	defer t.end()

	r, err := durabletest.CrashAt(t, shipping, "book", 2)
	fmt.Println(r.Output, err)
	for _, s := range r.Repeated() {
		fmt.Printf("step %d (%s) ran %d times\n", s.ID, s.Name, s.Runs)
	}
	// Output:
	// R-book shipped <nil>
	// step 2 (mail) ran 2 times
}

// Kill the workflow at each of its steps in turn: each recovered run must
// end as a run without a crash does, or the test fails.
func ExampleCrashEveryStep() {
	t := newExampleT() // in a test: the *testing.T
	defer t.end()

	for _, r := range durabletest.CrashEveryStep(t, shipping, "book") {
		fmt.Printf("crash at step %d: %q, %d step ran again\n", r.Crash, r.Output, len(r.Repeated()))
	}
	// Output:
	// crash at step 1: "R-book shipped", 1 step ran again
	// crash at step 2: "R-book shipped", 1 step ran again
	// crash at step 3: "R-book shipped", 1 step ran again
}

// exampleT stands for the *testing.T of a test in the examples, which
// have none: it fails by panicking, and cleans up at end.
type exampleT struct {
	testing.TB // not set: only the methods below are called
	cleanups   []func()
}

func newExampleT() *exampleT { return &exampleT{} }

func (t *exampleT) Helper()          {}
func (t *exampleT) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "durabletest")
	if err != nil {
		t.Fatalf("temporary folder: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *exampleT) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// end runs the cleanups, last first, as a test's end does.
func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
