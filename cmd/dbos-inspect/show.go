package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// showJSON is the -json output of show.
type showJSON struct {
	Workflow workflowJSON   `json:"workflow"`
	Steps    []stepJSON     `json:"steps"`
	Children []workflowJSON `json:"children"`
}

// maxChildren bounds the children show lists.
const maxChildren = 1000

func showFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	full := fs.Bool("full", false, "show payloads and errors whole, not cut")
	width := fs.Int("width", 50, "width of the timeline, in characters")
	asJSON := fs.Bool("json", false, "write JSON (see the README for its shape)")
	return func(ctx context.Context, in *inspector, args []string) error {
		id, err := oneID("show", args)
		if err != nil {
			return err
		}
		if *width < 10 {
			return usagef("-width must be at least 10, got %d", *width)
		}
		wf, err := in.workflow(ctx, id)
		if err != nil {
			return err
		}
		steps, err := in.c.Steps(ctx, id)
		if err != nil {
			return err
		}
		// Newest first, then turned round: on PostgreSQL an oldest-first
		// page comes short while another transaction writes.
		kids, err := in.c.ListWorkflows(ctx, durable.ListQuery{ParentID: id, Limit: maxChildren, NewestFirst: true})
		if err != nil {
			return err
		}
		slices.Reverse(kids.Workflows)
		if *asJSON {
			out := showJSON{Workflow: toWorkflowJSON(wf), Steps: []stepJSON{}, Children: []workflowJSON{}}
			for _, s := range steps {
				out.Steps = append(out.Steps, toStepJSON(s))
			}
			for _, k := range kids.Workflows {
				out.Children = append(out.Children, toWorkflowJSON(k))
			}
			return in.writeJSON(out)
		}
		w := payloadWidth
		if *full {
			w = 0
		}
		in.header(wf, w)
		fmt.Fprintln(in.out)
		in.timeline(wf, steps, kids.Workflows, *width)
		return nil
	}
}

// workflow reads one workflow with its input and output. Payloads that
// are not JSON (an application with a codec of its own) show as a note,
// and the rest of the workflow still shows.
func (in *inspector) workflow(ctx context.Context, id string) (durable.WorkflowStatus, error) {
	q := durable.ListQuery{IDs: []string{id}, LoadInput: true, LoadOutput: true}
	page, err := in.c.ListWorkflows(ctx, q)
	undecoded := errors.Is(err, durable.ErrDecode)
	if undecoded {
		q.LoadInput, q.LoadOutput = false, false
		page, err = in.c.ListWorkflows(ctx, q)
	}
	if err != nil {
		return durable.WorkflowStatus{}, err
	}
	if len(page.Workflows) == 0 {
		return durable.WorkflowStatus{}, fmt.Errorf("%w: %q", durable.ErrWorkflowNotFound, id)
	}
	wf := page.Workflows[0]
	if undecoded {
		wf.Input, wf.Output = note("(not JSON: the application's codec)"), note("(not JSON: the application's codec)")
	}
	return wf, nil
}

// header writes a workflow's fields, one a line.
func (in *inspector) header(wf durable.WorkflowStatus, width int) {
	tw := in.table()
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Workflow", wf.ID)
	row("Status", in.status(wf.Status))
	row("Name", wf.Name)
	row("Queue", dash(wf.QueueName))
	row("Parent", dash(wf.ParentID))
	row("Executor", dash(wf.ExecutorID))
	row("App version", dash(wf.ApplicationVersion))
	row("Attempts", strconv.Itoa(wf.RecoveryAttempts))
	row("Created", in.whenMilli(wf.CreatedAt))
	if !wf.StartedAt.IsZero() {
		row("Dequeued", in.whenMilli(wf.StartedAt))
	}
	row("Updated", in.whenMilli(wf.UpdatedAt))
	row("Completed", in.whenMilli(wf.CompletedAt))
	if !wf.Deadline.IsZero() {
		row("Deadline", in.whenMilli(wf.Deadline))
	}
	row("Duration", took(wf, nowFunc()))
	row("Input", payload(wf.Input, width))
	if wf.Status == durable.StatusSuccess {
		row("Output", payload(wf.Output, width))
	}
	if wf.Error != "" {
		row("Error", in.paint(red, cut(wf.Error, width)))
	}
	tw.Flush()
}

// span is one bar of a timeline.
type span struct {
	label      string
	start, end time.Time
	code       string // the bar's colour
	note       string
}

// timeline draws each step and child of wf as a bar on a time axis from
// its creation to its completion (or now), so that where the time went
// shows at a glance.
func (in *inspector) timeline(wf durable.WorkflowStatus, steps []durable.StepInfo, kids []durable.WorkflowStatus, width int) {
	now := nowFunc()
	children := map[string]durable.WorkflowStatus{}
	for _, k := range kids {
		children[k.ID] = k
	}
	var spans []span
	for _, s := range steps {
		sp := span{label: fmt.Sprintf("%d %s", s.StepID, s.Name), start: s.StartedAt, end: s.CompletedAt, code: green}
		if s.Error != nil {
			sp.code, sp.note = red, "error: "+cut(s.Error.Error(), 40)
		}
		if k, ok := children[s.ChildID]; ok && s.Name != "durable.getResult" {
			sp = childSpan(fmt.Sprintf("%d ↳ %s", s.StepID, k.Name), k, now)
			delete(children, k.ID)
		}
		spans = append(spans, sp)
	}
	for _, k := range kids { // children no step records (yet)
		if _, ok := children[k.ID]; ok {
			spans = append(spans, childSpan("  ↳ "+k.Name, k, now))
		}
	}
	if len(spans) == 0 {
		fmt.Fprintln(in.out, "no steps recorded")
		return
	}
	t0, t1 := wf.CreatedAt, wf.CompletedAt
	if t1.IsZero() {
		t1 = now
	}
	for _, sp := range spans {
		if !sp.start.IsZero() && sp.start.Before(t0) {
			t0 = sp.start
		}
		if sp.end.After(t1) {
			t1 = sp.end
		}
	}
	total := t1.Sub(t0)
	tw := in.table()
	fmt.Fprintf(tw, "STEP\tTIMELINE (%s)\tSTART\tTOOK\n", human(total))
	for _, sp := range spans {
		bar, off := in.bar(sp, t0, total, width)
		fmt.Fprintf(tw, "%s\t%s\t+%s\t%s", sp.label, bar, human(off), human(sp.end.Sub(sp.start)))
		if sp.note != "" {
			fmt.Fprintf(tw, "\t%s", sp.note)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func childSpan(label string, k durable.WorkflowStatus, now time.Time) span {
	sp := span{label: label, start: k.CreatedAt, end: k.CompletedAt, code: green, note: "child " + k.ID + " " + string(k.Status)}
	switch {
	case k.Status == durable.StatusPending || k.Status == durable.StatusEnqueued:
		sp.end, sp.code = now, yellow
	case k.Status != durable.StatusSuccess:
		sp.code = red
	}
	if sp.end.IsZero() {
		sp.end = k.UpdatedAt
	}
	return sp
}

// bar draws sp on an axis of width characters for total from t0, and
// returns it with the bar's offset from t0.
func (in *inspector) bar(sp span, t0 time.Time, total time.Duration, width int) (string, time.Duration) {
	start, end := sp.start, sp.end
	if start.IsZero() {
		start = end
	}
	col := func(t time.Time) int {
		if total <= 0 {
			return 0
		}
		return int(float64(t.Sub(t0)) / float64(total) * float64(width))
	}
	a, b := col(start), col(end)
	a = min(max(a, 0), width-1)
	b = min(max(b, a+1), width)
	cells := make([]rune, width)
	for i := range cells {
		cells[i] = '·'
	}
	for i := a; i < b; i++ {
		cells[i] = '█'
	}
	s := string(cells[:a]) + in.paint(sp.code, string(cells[a:b])) + string(cells[b:])
	return "|" + s + "|", start.Sub(t0)
}

func stepsFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	full := fs.Bool("full", false, "show outputs and errors whole, not cut")
	asJSON := fs.Bool("json", false, "write JSON (see the README for its shape)")
	return func(ctx context.Context, in *inspector, args []string) error {
		id, err := oneID("steps", args)
		if err != nil {
			return err
		}
		steps, err := in.c.Steps(ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			out := struct {
				WorkflowID string     `json:"workflow_id"`
				Steps      []stepJSON `json:"steps"`
			}{id, []stepJSON{}}
			for _, s := range steps {
				out.Steps = append(out.Steps, toStepJSON(s))
			}
			return in.writeJSON(out)
		}
		if len(steps) == 0 {
			fmt.Fprintf(in.out, "%s has no recorded steps\n", id)
			return nil
		}
		w := payloadWidth
		if *full {
			w = 0
		}
		tw := in.table()
		fmt.Fprintln(tw, "STEP\tNAME\tRESULT\tSTARTED\tTOOK\tCHILD\tOUTPUT OR ERROR")
		for _, s := range steps {
			result, shown := in.paint(green, "ok   "), payload(s.Output, w)
			if s.Error != nil {
				result, shown = in.paint(red, "error"), cut(s.Error.Error(), w)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.StepID, s.Name, result, in.whenMilli(s.StartedAt),
				human(stepTook(s)), dash(s.ChildID), shown)
		}
		return tw.Flush()
	}
}
