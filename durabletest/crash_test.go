package durabletest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/durabletest"
)

// backends returns the options of each backend the tests run on: SQLite,
// and PostgreSQL when $DBOS_TEST_POSTGRES_URL names a database.
func backends() map[string][]durabletest.Option {
	b := map[string][]durabletest.Option{"sqlite": nil}
	if url := os.Getenv("DBOS_TEST_POSTGRES_URL"); url != "" {
		b["postgres"] = []durabletest.Option{durabletest.WithPostgres(url)}
	}
	return b
}

// ledger records the side effects of steps: each call appends.
type ledger struct {
	mu    sync.Mutex
	calls []string
}

func (l *ledger) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

func (l *ledger) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == s {
			n++
		}
	}
	return n
}

// order is a workflow of three steps; the second sends a mail, once per
// call: it is not idempotent.
func order(l *ledger) durabletest.Setup[string, string] {
	return func(e *durable.Engine) (*durable.Workflow[string, string], error) {
		return durable.Register(e, "order", func(ctx context.Context, item string) (string, error) {
			id, err := durable.Step(ctx, "reserve", func(context.Context) (string, error) {
				l.add("reserve")
				return "R-" + item, nil
			})
			if err != nil {
				return "", err
			}
			if _, err := durable.Step(ctx, "mail", func(context.Context) (int, error) {
				l.add("mail")
				return 1, nil
			}); err != nil {
				return "", err
			}
			return durable.Step(ctx, "confirm", func(context.Context) (string, error) {
				l.add("confirm")
				return id + " confirmed", nil
			})
		})
	}
}

func TestCrashEveryStepCompletes(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			l := &ledger{}
			reports := durabletest.CrashEveryStep(t, order(l), "book", opts...)
			is.Equal(len(reports), 3) // one crash per step
			for i, r := range reports {
				is.Equal(r.Crash, i+1)                                                                      // crashed at each step in turn
				is.Equal(r.Output, "R-book confirmed")                                                      // completes with the output of a run without a crash
				is.Equal(len(r.Steps), 3)                                                                   // every step counted
				is.Equal(r.Repeated(), []durabletest.StepRuns{{ID: i + 1, Name: r.Steps[i].Name, Runs: 2}}) // the crashed step, only, ran again
			}
			// One run without a crash (3 calls), then per crash at step n:
			// steps 1..n before it, steps n..3 after it.
			is.Equal(l.count("reserve"), 1+2+1+1) // reserve ran again only after the crash at it
			is.Equal(l.count("mail"), 1+1+2+1)
			is.Equal(l.count("confirm"), 1+1+1+2)
		})
	}
}

func TestCrashAtShowsRepeatedStep(t *testing.T) {
	is := is.New(t)
	l := &ledger{}
	r, err := durabletest.CrashAt(t, order(l), "book", 2)
	is.NoErr(err)                                                                  // the recovered workflow succeeds
	is.Equal(r.Output, "R-book confirmed")                                         // with its output
	is.Equal(r.Repeated(), []durabletest.StepRuns{{ID: 2, Name: "mail", Runs: 2}}) // the mail step ran twice
	is.Equal(l.count("mail"), 2)                                                   // and so two mails went out
	is.Equal(r.Runs("reserve"), 1)                                                 // the step recorded before the crash did not run again
	is.Equal(l.count("reserve"), 1)
	is.Equal(r.Runs("confirm"), 1) // nothing after the crash point ran before it
	is.Equal(l.count("confirm"), 1)
}

func TestCrashAtBadPoint(t *testing.T) {
	for _, n := range []int{0, -1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			is := is.New(t)
			l := &ledger{}
			_, err := durabletest.CrashAt(t, order(l), "book", n)
			var cp *durabletest.CrashPointError
			is.True(errors.As(err, &cp))                        // a typed error
			is.Equal(*cp, durabletest.CrashPointError{Step: n}) // naming the point
			is.Equal(len(l.calls), 0)                           // and nothing ran
		})
	}
	t.Run("past the last step", func(t *testing.T) {
		is := is.New(t)
		l := &ledger{}
		r, err := durabletest.CrashAt(t, order(l), "book", 4)
		var cp *durabletest.CrashPointError
		is.True(errors.As(err, &cp))                                  // a typed error
		is.Equal(*cp, durabletest.CrashPointError{Step: 4, Steps: 3}) // with the workflow's last step
		is.True(strings.Contains(err.Error(), "ended without recording step 4; its last step is 3"))
		is.Equal(r.Output, "")         // no recovered output
		is.Equal(len(r.Repeated()), 0) // nothing ran twice: nothing was recovered
		is.Equal(len(l.calls), 3)      // each step ran once
	})
}

// flaky returns a different output each time it runs: a workflow
// CrashEveryStep must fail.
func flaky() durabletest.Setup[int, int] {
	var mu sync.Mutex
	runs := 0
	return func(e *durable.Engine) (*durable.Workflow[int, int], error) {
		return durable.Register(e, "flaky", func(ctx context.Context, in int) (int, error) {
			if _, err := durable.Step(ctx, "one", func(context.Context) (int, error) { return 1, nil }); err != nil {
				return 0, err
			}
			mu.Lock()
			defer mu.Unlock()
			runs++ // outside any step: not replayed, so each run differs
			return in + runs, nil
		})
	}
}

func TestCrashEveryStepReportsDifferentOutput(t *testing.T) {
	is := is.New(t)
	rt := &recordingT{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine it is called in
		defer close(done)
		durabletest.CrashEveryStep[int, int](rt, flaky(), 10)
	}()
	<-done
	is.Equal(len(rt.fatals), 0) // the runs ran
	is.Equal(len(rt.errors), 1) // and the one crash run was told apart
	is.True(strings.Contains(rt.errors[0], "crashed at step 1, the workflow returned"))
}

// recordingT is a testing.TB that records failures instead of failing.
type recordingT struct {
	testing.TB
	mu             sync.Mutex
	errors, fatals []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingT) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}
