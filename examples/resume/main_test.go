package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/durabletest"
	"github.com/dboslite/dboslite/internal/pgschema"
)

// The onboarding workflow, crashed at each of its steps in turn as a
// SIGKILL would, completes every time with the same report, and only the
// step cut short runs again.
func TestOnboardingSurvivesACrashAtEveryStep(t *testing.T) {
	is := is.New(t)
	stepTime = 0
	setup := func(e *durable.Engine) (*durable.Workflow[string, Report], error) {
		return durable.Register(e, "onboarding", onboard(fixedID))
	}
	reports := durabletest.CrashEveryStep(t, setup, "ada@example.com", durabletest.WithWorkflowID(fixedID))
	is.Equal(len(reports), len(steps)) // one crash per step
	for _, r := range reports {
		is.Equal(len(r.Output.Steps), len(steps)) // every step done
		repeated := r.Repeated()
		is.Equal(len(repeated), 1)                         // only the step cut short
		is.Equal(repeated[0].Name, steps[r.Crash-1].doing) // ran twice
	}
}

// The example runs to the end on SQLite and, by its URL alone, on
// PostgreSQL; run again, it finds the workflow done and runs nothing.
func TestTheExampleOnEachBackend(t *testing.T) {
	stepTime = 0
	urls := map[string]string{"sqlite": ""} // the -db file
	if base := os.Getenv("DBOS_TEST_POSTGRES_URL"); base != "" {
		urls["postgres"] = pgschema.ForTest(t, base)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("set DBOS_TEST_POSTGRES_URL: under CI the example runs on PostgreSQL too")
	} else {
		t.Log("the PostgreSQL run skipped: set DBOS_TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/dboslite_test")
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			t.Setenv("DBOS_SYSTEM_DATABASE_URL", url)
			db := filepath.Join(t.TempDir(), "example.sqlite")
			for range 2 {
				ctx, stop := context.WithCancel(context.Background())
				code, err := run(ctx, stop, db, false)
				stop()
				is.NoErr(err)
				is.Equal(code, 0)
			}
			if url == "" {
				url = "sqlite:" + db
			}
			c, err := durable.NewClient(context.Background(), durable.ClientConfig{SystemDatabaseURL: url})
			is.NoErr(err)
			defer c.Close()
			page, err := c.ListWorkflows(context.Background(), durable.ListQuery{IDs: []string{fixedID}})
			is.NoErr(err)
			is.Equal(len(page.Workflows), 1)                          // one workflow, run once
			is.Equal(page.Workflows[0].Status, durable.StatusSuccess) // to the end
			recorded, err := c.Steps(context.Background(), fixedID)
			is.NoErr(err)
			is.Equal(len(recorded), len(steps)) // each step recorded once
		})
	}
}
