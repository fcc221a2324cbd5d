package main

import (
	"context"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
)

// statuses returns the status of every workflow of the database at url.
func statuses(t *testing.T, url string) map[string]durable.Status {
	t.Helper()
	c, err := durable.NewClient(context.Background(), durable.ClientConfig{SystemDatabaseURL: url, ReadOnly: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	page, err := c.ListWorkflows(context.Background(), durable.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]durable.Status{}
	for _, wf := range page.Workflows {
		out[wf.ID] = wf.Status
	}
	return out
}

// The write commands change what they say, print one line, and refuse
// bad input with an error that changes nothing.
func TestWriteCommands(t *testing.T) {
	steps := [][]string{
		{"cancel", "report-8"},
		{"resume", "order-1002"},
		{"resume", "order-1001"},
		{"fork", "-step", "3", "-id", "fork-1", "order-1001"},
		{"fork", "-step", "99", "-id", "fork-2", "order-1001"},
		{"delete", "import-3"},
		{"delete", "no-such-workflow"},
		{"gc"},
		{"gc", "-keep", "1"},
	}
	for backend, newURL := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			is := is.New(t)
			url := newURL(t)
			fixture(t, url)
			var log strings.Builder
			for _, args := range steps {
				log.WriteString("$ dbos-inspect " + strings.Join(args, " ") + "\n")
				log.WriteString(inspect(url, args...).text())
			}
			golden(t, "steer", log.String())
			got := statuses(t, url)
			has := func(id string) bool { _, ok := got[id]; return ok }
			is.True(!has("report-8"))                          // cancelled, then collected by gc
			is.Equal(got["order-1002"], durable.StatusPending) // resumed
			is.Equal(got["fork-1"], durable.StatusPending)     // forked, waiting for an engine
			is.True(!has("fork-2"))                            // a fork past the last step makes nothing
			is.True(!has("import-3"))                          // deleted
			is.Equal(got["echo-long"], durable.StatusSuccess)  // the newest finished one is kept by gc -keep 1
			is.Equal(got["report-7"], durable.StatusPending)   // active workflows are never collected
			is.Equal(len(got), 4)                              // order-1001 and its child were collected
			r := inspect(url, "steps", "fork-1")
			is.True(strings.Contains(r.stdout, "2     charge")) // the fork reused the steps before 3
		})
	}
}
