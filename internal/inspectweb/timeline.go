package inspectweb

import (
	"time"

	"github.com/dboslite/dboslite/durable"
)

// The timeline's geometry, in SVG user units.
const (
	tlLabel  = 260 // width of the labels' column
	tlPlot   = 620 // width of the time axis
	tlRow    = 20  // height of a row
	tlTop    = 22  // height of the axis above the rows
	tlMinBar = 2   // narrowest bar, so an instant step stays visible
	tlTicks  = 4   // intervals of the axis
)

// timeline is an SVG drawing of where a workflow's time went: one row
// per recorded step, then one per child workflow, on an axis from the
// workflow's creation to its end (or now).
type timeline struct {
	Width, Height int
	Ticks         []tick
	Bars          []bar
	Span          time.Duration
}

type tick struct {
	X     float64
	Label string
}

type bar struct {
	Class  string // "step", "step internal", "step failed" or "child"
	StepID int    // for a step
	Label  string
	Title  string // the tooltip
	Href   string // a child's page
	X, W   float64
	Y      int
}

// drawTimeline lays out the timeline of wf, its steps and children; now
// ends the axis of a workflow still active.
func drawTimeline(wf durable.WorkflowStatus, steps []durable.StepInfo, children []durable.WorkflowStatus, now time.Time) timeline {
	start, end := wf.CreatedAt, wf.CompletedAt
	if end.IsZero() {
		end = now
	}
	for _, st := range steps {
		start, end = earlier(start, st.StartedAt), later(end, st.CompletedAt)
	}
	for _, c := range children {
		start, end = earlier(start, c.CreatedAt), later(end, childEnd(c, now))
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Millisecond
	}
	x := func(t time.Time) float64 {
		if t.IsZero() {
			t = start
		}
		return tlLabel + float64(t.Sub(start))/float64(span)*tlPlot
	}
	tl := timeline{Width: tlLabel + tlPlot + 40, Span: span}
	for i := 0; i <= tlTicks; i++ {
		d := span * time.Duration(i) / tlTicks
		tl.Ticks = append(tl.Ticks, tick{X: tlLabel + float64(i)*tlPlot/tlTicks, Label: "+" + human(d)})
	}
	row := func(b bar, from, to time.Time) {
		b.Y = tlTop + len(tl.Bars)*tlRow
		b.X, b.W = x(from), max(tlMinBar, x(to)-x(from))
		tl.Bars = append(tl.Bars, b)
	}
	for _, st := range steps {
		b := bar{Class: "step", StepID: st.StepID, Label: cut(itoa(st.StepID)+" "+st.Name, 40),
			Title: st.Name + ": " + human(st.CompletedAt.Sub(st.StartedAt))}
		if st.Internal {
			b.Class = "step internal"
		}
		if st.Error != nil {
			b.Class = "step failed"
			b.Title += ": " + st.Error.Error()
		}
		row(b, st.StartedAt, st.CompletedAt)
	}
	for _, c := range children {
		e := childEnd(c, now)
		row(bar{Class: "child", Label: cut("↳ "+c.Name+" "+c.ID, 40), Href: wfPath(c.ID),
			Title: c.Name + " " + c.ID + ": " + string(c.Status) + ", " + human(e.Sub(c.CreatedAt))}, c.CreatedAt, e)
	}
	tl.Height = tlTop + len(tl.Bars)*tlRow + 6
	return tl
}

// childEnd is when a child ended, or now while it is active.
func childEnd(c durable.WorkflowStatus, now time.Time) time.Time {
	if c.CompletedAt.IsZero() {
		return now
	}
	return c.CompletedAt
}

func earlier(a, b time.Time) time.Time {
	if !b.IsZero() && (a.IsZero() || b.Before(a)) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
