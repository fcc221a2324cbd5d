package main

import (
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/durabletest"
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
