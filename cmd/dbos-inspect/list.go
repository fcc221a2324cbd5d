package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// filter holds the flags that select workflows, shared by list and
// stats.
type filter struct {
	statuses, name, queue, executor, version, parent, prefix string
	since                                                    time.Duration
}

func (f *filter) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.statuses, "status", "", "only these statuses, comma-separated (PENDING,ENQUEUED,SUCCESS,ERROR,CANCELLED,MAX_RECOVERY_ATTEMPTS_EXCEEDED)")
	fs.StringVar(&f.name, "name", "", "only workflows of this name")
	fs.StringVar(&f.queue, "queue", "", "only workflows of this queue")
	fs.StringVar(&f.executor, "executor", "", "only workflows of this executor")
	fs.StringVar(&f.version, "app-version", "", "only workflows of this application version")
	fs.StringVar(&f.parent, "parent", "", "only the children of this workflow")
	fs.StringVar(&f.prefix, "prefix", "", "only workflows whose ID starts with this")
	fs.DurationVar(&f.since, "since", 0, "only workflows created within this long (e.g. 1h)")
}

// query turns the flags into a ListQuery.
func (f *filter) query() (durable.ListQuery, error) {
	q := durable.ListQuery{
		Name: f.name, Queue: f.queue, ExecutorID: f.executor, ApplicationVersion: f.version,
		ParentID: f.parent, IDPrefix: f.prefix,
	}
	if f.statuses != "" {
		for _, s := range strings.Split(f.statuses, ",") {
			st := durable.Status(strings.ToUpper(strings.TrimSpace(s)))
			if !known(st) {
				return q, usagef("-status: unknown status %q (PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED or MAX_RECOVERY_ATTEMPTS_EXCEEDED)", s)
			}
			q.Statuses = append(q.Statuses, st)
		}
	}
	switch {
	case f.since < 0:
		return q, usagef("-since: negative duration %v", f.since)
	case f.since > 0:
		q.CreatedAfter = nowFunc().Add(-f.since)
	}
	return q, nil
}

func known(s durable.Status) bool {
	switch s {
	case durable.StatusPending, durable.StatusEnqueued, durable.StatusSuccess, durable.StatusError,
		durable.StatusCancelled, durable.StatusMaxRecoveryAttemptsExceeded:
		return true
	}
	return false
}

// listJSON is the -json output of list.
type listJSON struct {
	Workflows []workflowJSON `json:"workflows"`
	// Next is the -after of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func listFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	var f filter
	f.flags(fs)
	limit := fs.Int("limit", 20, "how many workflows to list (a page)")
	after := fs.String("after", "", "list the page after this one: the token a full page ends with")
	oldest := fs.Bool("oldest", false, "oldest first (on PostgreSQL a page may come short while another transaction writes: -after goes on)")
	payloads := fs.Bool("payloads", false, "show inputs and outputs")
	full := fs.Bool("full", false, "show errors and payloads whole, not cut")
	asJSON := fs.Bool("json", false, "write JSON (see the README for its shape)")
	return func(ctx context.Context, in *inspector, args []string) error {
		if err := noArgs("list", args); err != nil {
			return err
		}
		q, err := f.query()
		if err != nil {
			return err
		}
		if *limit < 1 {
			return usagef("-limit must be at least 1, got %d", *limit)
		}
		q.Limit, q.After, q.NewestFirst = *limit, *after, !*oldest
		q.LoadInput, q.LoadOutput = *payloads, *payloads
		page, err := in.c.ListWorkflows(ctx, q)
		if err != nil {
			return err
		}
		next := ""
		if len(page.Workflows) == *limit {
			next = page.Next
		}
		if *asJSON {
			out := listJSON{Workflows: []workflowJSON{}, Next: next}
			for _, wf := range page.Workflows {
				out.Workflows = append(out.Workflows, toWorkflowJSON(wf))
			}
			return in.writeJSON(out)
		}
		width := payloadWidth
		if *full {
			width = 0
		}
		in.listTable(page.Workflows, *payloads, width)
		if next != "" {
			fmt.Fprintf(in.out, "more: add -after %s\n", next)
		}
		return nil
	}
}

// listTable writes workflows as a table.
func (in *inspector) listTable(wfs []durable.WorkflowStatus, payloads bool, width int) {
	if len(wfs) == 0 {
		fmt.Fprintln(in.out, "no workflows match")
		return
	}
	now := nowFunc()
	tw := in.table()
	head := "WORKFLOW ID\tSTATUS\tNAME\tQUEUE\tCREATED\tDURATION\tERROR"
	if payloads {
		head += "\tINPUT\tOUTPUT"
	}
	fmt.Fprintln(tw, head)
	errWidth := width
	if width > 0 {
		errWidth = 40
	}
	for _, wf := range wfs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s", wf.ID, in.status(wf.Status), wf.Name, dash(wf.QueueName),
			in.when(wf.CreatedAt), took(wf, now), dash(cut(wf.Error, errWidth)))
		if payloads {
			fmt.Fprintf(tw, "\t%s\t%s", payload(wf.Input, width), payload(wf.Output, width))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
