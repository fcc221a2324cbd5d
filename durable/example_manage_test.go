package durable_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
)

// opsEngine launches an engine with a three-step "report" workflow whose
// second step fails until fixed is true.
func opsEngine(fixed *bool) (*durable.Engine, *durable.Workflow[string, string]) {
	eng, err := durable.New(durable.Config{AppName: "ops", SystemDatabaseURL: "sqlite::memory:"})
	if err != nil {
		log.Fatal(err)
	}
	report, err := durable.Register(eng, "report", func(ctx context.Context, day string) (string, error) {
		rows, err := durable.Step(ctx, "fetch", func(ctx context.Context) (int, error) { return 42, nil })
		if err != nil {
			return "", err
		}
		if _, err := durable.Step(ctx, "check", func(ctx context.Context) (bool, error) { return true, nil }); err != nil {
			return "", err
		}
		if !*fixed {
			return "", fmt.Errorf("report of %s: the renderer is broken", day)
		}
		return durable.Step(ctx, "render", func(ctx context.Context) (string, error) {
			return fmt.Sprintf("%s: %d rows", day, rows), nil
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(context.Background()); err != nil {
		log.Fatal(err)
	}
	return eng, report
}

// Find last night's failed workflows, newest first, a page at a time;
// look at one's steps; resume it once the code is fixed.
func ExampleEngine_ListWorkflows() {
	ctx := context.Background()
	fixed := false
	eng, report := opsEngine(&fixed)
	defer eng.Shutdown(ctx)
	for _, day := range []string{"mon", "tue"} {
		report.Run(ctx, day, durable.WithID("report-"+day)) // both fail
	}

	q := durable.ListQuery{Statuses: []durable.Status{durable.StatusError}, NewestFirst: true, Limit: 2}
	for {
		page, err := eng.ListWorkflows(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		for _, wf := range page.Workflows {
			fmt.Println(wf.ID, wf.Status, wf.Error)
		}
		if len(page.Workflows) < q.Limit {
			break // the last page
		}
		q.After = page.Next
	}

	steps, err := eng.Steps(ctx, "report-tue")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range steps {
		fmt.Println(s.StepID, s.Name, s.Output)
	}

	fixed = true // the deploy with the fix
	if err := eng.Resume(ctx, "report-tue"); err != nil {
		log.Fatal(err)
	}
	h, err := report.Retrieve(ctx, "report-tue")
	if err != nil {
		log.Fatal(err)
	}
	out, err := h.Result(ctx)
	fmt.Println(out, err)
	// Output:
	// report-tue ERROR report of tue: the renderer is broken
	// report-mon ERROR report of mon: the renderer is broken
	// 1 fetch 42
	// 2 check true
	// tue: 42 rows <nil>
}

// Fork replays a workflow's first steps from its records and runs the
// rest again, here with a new input.
func ExampleEngine_Fork() {
	ctx := context.Background()
	fixed := true
	eng, report := opsEngine(&fixed)
	defer eng.Shutdown(ctx)
	if _, err := report.Run(ctx, "wed", durable.WithID("report-wed")); err != nil {
		log.Fatal(err)
	}
	id, err := eng.Fork(ctx, "report-wed", 3, durable.WithForkID("report-wed-again"), durable.WithForkInput("wed (again)"))
	if err != nil {
		log.Fatal(err)
	}
	h, err := report.Retrieve(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	out, err := h.Result(ctx)
	fmt.Println(out, err)
	// Output: wed (again): 42 rows <nil>
}

// Delete one workflow; keep the database from growing with a retention
// pass (or Config.RetainFor); cancel whatever is still active from before
// a cutoff.
func ExampleEngine_CollectGarbage() {
	ctx := context.Background()
	fixed := true
	eng, report := opsEngine(&fixed)
	defer eng.Shutdown(ctx)
	for _, day := range []string{"thu", "fri", "sat"} {
		if _, err := report.Run(ctx, day, durable.WithID("report-"+day)); err != nil {
			log.Fatal(err)
		}
	}
	if err := eng.Delete(ctx, "report-thu"); err != nil {
		log.Fatal(err)
	}
	n, err := eng.CollectGarbage(ctx, durable.Retention{KeepNewest: 1})
	fmt.Println("deleted", n, err)
	n, err = eng.CancelCreatedBefore(ctx, time.Now())
	fmt.Println("cancelled", n, err)
	page, err := eng.ListWorkflows(ctx, durable.ListQuery{})
	if err != nil {
		log.Fatal(err)
	}
	for _, wf := range page.Workflows {
		fmt.Println("kept", wf.ID)
	}
	// Output:
	// deleted 1 <nil>
	// cancelled 0 <nil>
	// kept report-sat
}

// A program that runs no workflows acts on another's through a Client:
// it enqueues by name, waits, and looks at the queues.
func ExampleNewClient() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "client-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	url := "sqlite:" + filepath.Join(dir, "app.sqlite")

	// The application: it serves the queue "work".
	eng, err := durable.New(durable.Config{AppName: "app", SystemDatabaseURL: url})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := durable.Register(eng, "greet", func(ctx context.Context, name string) (string, error) {
		return "hello, " + name, nil
	}); err != nil {
		log.Fatal(err)
	}
	if err := durable.RegisterQueue(eng, queue.Queue{Name: "work"}); err != nil {
		log.Fatal(err)
	}
	if err := eng.Launch(ctx); err != nil {
		log.Fatal(err)
	}
	defer eng.Shutdown(ctx)

	// Another program.
	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	h, err := durable.Enqueue[string](ctx, c, "work", "greet", "ada", durable.WithPriority(1))
	if err != nil {
		log.Fatal(err)
	}
	out, err := h.Result(ctx)
	fmt.Println(out, err)
	depths, err := c.QueueDepths(ctx)
	fmt.Println(len(depths), err) // nothing waiting any more
	// Output:
	// hello, ada <nil>
	// 0 <nil>
}

// Count what waits in each queue, and what runs: here reports enqueued
// on a queue that no engine serves yet.
func ExampleEngine_QueueDepths() {
	ctx := context.Background()
	fixed := true
	eng, _ := opsEngine(&fixed)
	defer eng.Shutdown(ctx)
	for _, day := range []string{"sun", "mon"} {
		if _, err := durable.Enqueue[string](ctx, eng, "nightly", "report", day); err != nil {
			log.Fatal(err)
		}
	}
	depths, err := eng.QueueDepths(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range depths {
		fmt.Printf("%s: %d enqueued, %d running\n", d.Queue, d.Enqueued, d.Pending)
	}
	// Output: nightly: 2 enqueued, 0 running
}

// Cancel a workflow that waits in a queue: it never runs, and whoever
// waits for it hears so. A second cancel changes nothing.
func ExampleEngine_Cancel() {
	ctx := context.Background()
	fixed := true
	eng, report := opsEngine(&fixed)
	defer eng.Shutdown(ctx)
	h, err := durable.Enqueue[string](ctx, eng, "nightly", "report", "sat", durable.WithID("report-sat"))
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		if err := eng.Cancel(ctx, "report-sat", durable.WithChildren(false)); err != nil {
			log.Fatal(err)
		}
	}
	_, err = h.Result(ctx)
	fmt.Println(errors.Is(err, durable.ErrWorkflowCancelled))
	st, err := report.Retrieve(ctx, "report-sat")
	if err != nil {
		log.Fatal(err)
	}
	status, err := st.Status(ctx)
	fmt.Println(status.Status, err)
	// Output:
	// true
	// CANCELLED <nil>
}
