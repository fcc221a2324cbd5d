package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// watchJSON is one frame of watch -json: one JSON object a line.
type watchJSON struct {
	At      int64          `json:"at"`
	Queues  []queueJSON    `json:"queues"`
	Active  []workflowJSON `json:"active"`
	Recent  []workflowJSON `json:"recent"`
	Limited bool           `json:"limited,omitempty"`
}

func watchFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	every := fs.Duration("interval", 2*time.Second, "how often to refresh")
	rows := fs.Int("rows", 15, "how many running and how many recent workflows to show")
	count := fs.Int("count", 0, "stop after this many refreshes (0: until Ctrl-C)")
	asJSON := fs.Bool("json", false, "write each refresh as one line of JSON")
	return func(ctx context.Context, in *inspector, args []string) error {
		if err := noArgs("watch", args); err != nil {
			return err
		}
		if *every < 100*time.Millisecond || *rows < 1 || *count < 0 {
			return usagef("watch needs -interval of at least 100ms, -rows of at least 1 and -count not negative")
		}
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for n := 1; ; n++ {
			f, err := in.frame(ctx, *rows)
			if ctx.Err() != nil {
				return nil // Ctrl-C: a clean end
			}
			if err != nil {
				return err
			}
			if *asJSON {
				err = in.writeJSONLine(f)
			} else {
				err = in.drawFrame(f, *every)
			}
			if err != nil || n == *count {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}
}

// frame reads what one refresh shows.
func (in *inspector) frame(ctx context.Context, rows int) (watchJSON, error) {
	f := watchJSON{At: millis(nowFunc())}
	ds, err := in.c.QueueDepths(ctx)
	if err != nil {
		return f, err
	}
	f.Queues = queuesJSON(ds)
	active, err := in.c.ListWorkflows(ctx, durable.ListQuery{
		Statuses: []durable.Status{durable.StatusPending, durable.StatusEnqueued}, NewestFirst: true, Limit: rows + 1,
	})
	if err != nil {
		return f, err
	}
	recent, err := in.c.ListWorkflows(ctx, durable.ListQuery{
		Statuses: []durable.Status{durable.StatusSuccess, durable.StatusError, durable.StatusCancelled,
			durable.StatusMaxRecoveryAttemptsExceeded},
		NewestFirst: true, Limit: rows,
	})
	if err != nil {
		return f, err
	}
	f.Active, f.Recent = []workflowJSON{}, []workflowJSON{}
	for i, wf := range active.Workflows {
		if i == rows {
			f.Limited = true
			break
		}
		f.Active = append(f.Active, toWorkflowJSON(wf))
	}
	for _, wf := range recent.Workflows {
		f.Recent = append(f.Recent, toWorkflowJSON(wf))
	}
	return f, nil
}

// writeJSONLine writes f as one line of JSON.
func (in *inspector) writeJSONLine(f watchJSON) error {
	enc := json.NewEncoder(in.out)
	enc.SetEscapeHTML(false)
	return enc.Encode(f)
}

// drawFrame draws a refresh: in place on a terminal (the screen is
// cleared first), one after the other in a pipe.
func (in *inspector) drawFrame(f watchJSON, every time.Duration) error {
	var buf bytes.Buffer
	sub := *in
	sub.out = &buf
	if in.tty {
		buf.WriteString("\x1b[H\x1b[2J") // home, clear: the frame replaces the last
	}
	fmt.Fprintf(&buf, "dbos-inspect watch — %s, every %s, Ctrl-C to stop\n\n", in.when(time.UnixMilli(f.At)), every)
	depths := make([]durable.QueueDepth, len(f.Queues))
	for i, q := range f.Queues {
		depths[i] = durable.QueueDepth{Queue: q.QueueName, Enqueued: q.Enqueued, Pending: q.Pending}
	}
	sub.queueTable(depths)
	more := ""
	if f.Limited {
		more = fmt.Sprintf(" (the newest %d)", len(f.Active))
	}
	fmt.Fprintf(&buf, "\nRUNNING AND ENQUEUED%s\n", more)
	sub.listTable(fromJSON(f.Active), false, payloadWidth)
	fmt.Fprintf(&buf, "\nRECENTLY FINISHED\n")
	sub.listTable(fromJSON(f.Recent), false, payloadWidth)
	if !in.tty {
		buf.WriteString("\n") // frames one after the other
	}
	_, err := in.out.Write(buf.Bytes())
	return err
}

// fromJSON turns the fields a table shows back into workflows.
func fromJSON(ws []workflowJSON) []durable.WorkflowStatus {
	out := make([]durable.WorkflowStatus, len(ws))
	at := func(ms int64) time.Time {
		if ms == 0 {
			return time.Time{}
		}
		return time.UnixMilli(ms)
	}
	for i, w := range ws {
		out[i] = durable.WorkflowStatus{ID: w.WorkflowID, Status: durable.Status(w.Status), Name: w.Name,
			QueueName: w.QueueName, Error: w.Error, CreatedAt: at(w.CreatedAt), UpdatedAt: at(w.UpdatedAt),
			CompletedAt: at(w.CompletedAt)}
	}
	return out
}
