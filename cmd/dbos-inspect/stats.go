package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dboslite/dboslite/durable"
)

func queuesFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	asJSON := fs.Bool("json", false, "write JSON (see the README for its shape)")
	return func(ctx context.Context, in *inspector, args []string) error {
		if err := noArgs("queues", args); err != nil {
			return err
		}
		ds, err := in.c.QueueDepths(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return in.writeJSON(struct {
				Queues []queueJSON `json:"queues"`
			}{queuesJSON(ds)})
		}
		in.queueTable(ds)
		return nil
	}
}

func queuesJSON(ds []durable.QueueDepth) []queueJSON {
	out := []queueJSON{}
	for _, d := range ds {
		out = append(out, queueJSON{QueueName: d.Queue, Enqueued: d.Enqueued, Pending: d.Pending})
	}
	return out
}

func (in *inspector) queueTable(ds []durable.QueueDepth) {
	if len(ds) == 0 {
		fmt.Fprintln(in.out, "no queue has enqueued or running workflows")
		return
	}
	tw := in.table()
	fmt.Fprintln(tw, "QUEUE\tENQUEUED\tRUNNING")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Queue, d.Enqueued, d.Pending)
	}
	tw.Flush()
}

// statsJSON is the -json output of stats. Durations are milliseconds.
type statsJSON struct {
	Workflows int `json:"workflows"`
	// Truncated says that more workflows matched than -max: the counts
	// are of the newest -max.
	Truncated bool         `json:"truncated"`
	ByStatus  []countJSON  `json:"by_status"`
	ByName    []countJSON  `json:"by_name"`
	ByQueue   []countJSON  `json:"by_queue"`
	Steps     stepsSummary `json:"steps"`
}

// countJSON is the count of one status, name or queue; for names, the
// percentiles of the durations of those that completed.
type countJSON struct {
	Key    string `json:"key"`
	Count  int    `json:"count"`
	Errors int    `json:"errors,omitempty"`
	percentiles
}

// stepsSummary has the step-duration percentiles of the newest
// -step-sample workflows, overall and by step name.
type stepsSummary struct {
	SampledWorkflows int `json:"sampled_workflows"`
	Count            int `json:"count"`
	percentiles
	ByName []countJSON `json:"by_name"`
}

type percentiles struct {
	P50 *float64 `json:"p50_ms,omitempty"`
	P90 *float64 `json:"p90_ms,omitempty"`
	P99 *float64 `json:"p99_ms,omitempty"`
}

// percentilesOf returns the nearest-rank percentiles of ds, which it
// sorts; none of an empty ds.
func percentilesOf(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	slices.Sort(ds)
	at := func(p float64) *float64 {
		i := int(math.Ceil(p/100*float64(len(ds)))) - 1
		ms := float64(ds[max(i, 0)].Microseconds()) / 1000
		return &ms
	}
	return percentiles{P50: at(50), P90: at(90), P99: at(99)}
}

func (p percentiles) text() (string, string, string) {
	f := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return human(time.Duration(*v * float64(time.Millisecond)))
	}
	return f(p.P50), f(p.P90), f(p.P99)
}

func statsFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	var f filter
	f.flags(fs)
	most := fs.Int("max", 100_000, "count at most this many workflows, the newest")
	sample := fs.Int("step-sample", 200, "take step durations from this many of the newest workflows")
	asJSON := fs.Bool("json", false, "write JSON (see the README for its shape)")
	return func(ctx context.Context, in *inspector, args []string) error {
		if err := noArgs("stats", args); err != nil {
			return err
		}
		q, err := f.query()
		if err != nil {
			return err
		}
		if *most < 1 || *sample < 0 {
			return usagef("-max must be at least 1 and -step-sample not negative")
		}
		st, err := in.stats(ctx, q, *most, *sample)
		if err != nil {
			return err
		}
		if *asJSON {
			return in.writeJSON(st)
		}
		in.statsText(st)
		return nil
	}
}

// stats counts the workflows q selects, newest first, up to most, and
// the steps of the newest sample of them.
func (in *inspector) stats(ctx context.Context, q durable.ListQuery, most, sample int) (statsJSON, error) {
	var st statsJSON
	status, name, queue := counter{}, counter{}, counter{}
	durs := map[string][]time.Duration{}
	var sampled []string
	q.NewestFirst, q.Limit = true, min(1000, most+1)
	for {
		page, err := in.c.ListWorkflows(ctx, q)
		if err != nil {
			return st, err
		}
		for _, wf := range page.Workflows {
			if st.Workflows == most {
				st.Truncated = true
				break
			}
			st.Workflows++
			status.add(string(wf.Status))
			c := name.add(wf.Name)
			if wf.Status == durable.StatusError || wf.Status == durable.StatusMaxRecoveryAttemptsExceeded {
				c.Errors++
			}
			if !wf.CompletedAt.IsZero() {
				durs[wf.Name] = append(durs[wf.Name], wf.CompletedAt.Sub(wf.CreatedAt))
			}
			if wf.QueueName != "" {
				queue.add(wf.QueueName)
			}
			if len(sampled) < sample {
				sampled = append(sampled, wf.ID)
			}
		}
		if st.Truncated || len(page.Workflows) < q.Limit {
			break
		}
		q.After = page.Next
	}
	st.ByStatus, st.ByName, st.ByQueue = status.sorted(), name.sorted(), queue.sorted()
	for i := range st.ByName {
		st.ByName[i].percentiles = percentilesOf(durs[st.ByName[i].Key])
	}
	var err error
	st.Steps, err = in.stepStats(ctx, sampled)
	return st, err
}

// stepStats summarises the step durations of workflows ids.
func (in *inspector) stepStats(ctx context.Context, ids []string) (stepsSummary, error) {
	sum := stepsSummary{SampledWorkflows: len(ids), ByName: []countJSON{}}
	var all []time.Duration
	byName, names := map[string][]time.Duration{}, counter{}
	for _, id := range ids {
		steps, err := in.c.Steps(ctx, id)
		if err != nil {
			return sum, err
		}
		for _, s := range steps {
			d := stepTook(s)
			all = append(all, d)
			byName[s.Name] = append(byName[s.Name], d)
			c := names.add(s.Name)
			if s.Error != nil {
				c.Errors++
			}
		}
	}
	sum.Count, sum.percentiles = len(all), percentilesOf(all)
	sum.ByName = names.sorted()
	for i := range sum.ByName {
		sum.ByName[i].percentiles = percentilesOf(byName[sum.ByName[i].Key])
	}
	return sum, nil
}

// counter counts by key.
type counter map[string]*countJSON

func (c counter) add(key string) *countJSON {
	n := c[key]
	if n == nil {
		n = &countJSON{Key: key}
		c[key] = n
	}
	n.Count++
	return n
}

// sorted returns the counts, largest first, then by key.
func (c counter) sorted() []countJSON {
	out := []countJSON{}
	for _, n := range c {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b countJSON) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return out
}

func (in *inspector) statsText(st statsJSON) {
	more := ""
	if st.Truncated {
		more = " (the newest; more match: raise -max)"
	}
	fmt.Fprintf(in.out, "%d workflows%s\n\n", st.Workflows, more)
	tw := in.table()
	fmt.Fprintln(tw, "STATUS\tCOUNT")
	for _, c := range st.ByStatus {
		fmt.Fprintf(tw, "%s\t%d\n", in.status(durable.Status(c.Key)), c.Count)
	}
	tw.Flush()
	fmt.Fprintln(in.out)
	tw = in.table()
	fmt.Fprintln(tw, "WORKFLOW NAME\tCOUNT\tFAILED\tP50\tP90\tP99")
	for _, c := range st.ByName {
		p50, p90, p99 := c.text()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", c.Key, c.Count, c.Errors, p50, p90, p99)
	}
	tw.Flush()
	if len(st.ByQueue) > 0 {
		fmt.Fprintln(in.out)
		tw = in.table()
		fmt.Fprintln(tw, "QUEUE\tCOUNT")
		for _, c := range st.ByQueue {
			fmt.Fprintf(tw, "%s\t%d\n", c.Key, c.Count)
		}
		tw.Flush()
	}
	fmt.Fprintf(in.out, "\nstep durations, %d steps of the newest %d workflows\n", st.Steps.Count, st.Steps.SampledWorkflows)
	if st.Steps.Count == 0 {
		return
	}
	tw = in.table()
	fmt.Fprintln(tw, "STEP NAME\tCOUNT\tFAILED\tP50\tP90\tP99")
	p50, p90, p99 := st.Steps.text()
	fmt.Fprintf(tw, "(all)\t%d\t\t%s\t%s\t%s\n", st.Steps.Count, p50, p90, p99)
	for _, c := range st.Steps.ByName {
		p50, p90, p99 := c.text()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", c.Key, c.Count, c.Errors, p50, p90, p99)
	}
	tw.Flush()
}
