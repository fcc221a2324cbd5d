package inspectweb

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
)

func TestDrawTimeline(t *testing.T) {
	is := is.New(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	wf := durable.WorkflowStatus{ID: "w", CreatedAt: t0, CompletedAt: at(100)}
	steps := []durable.StepInfo{
		{StepID: 1, Name: "a", StartedAt: at(0), CompletedAt: at(50)},
		{StepID: 2, Name: "b", StartedAt: at(50), CompletedAt: at(50)}, // an instant
		{StepID: 3, Name: "c", StartedAt: at(60), CompletedAt: at(100), Error: errors.New("boom"), Internal: true},
	}
	children := []durable.WorkflowStatus{{ID: "w-4", Name: "kid", CreatedAt: at(70)}} // still running
	tl := drawTimeline(wf, steps, children, at(200))

	is.Equal(tl.Span, 200*time.Millisecond) // the running child stretches the axis to now
	is.Equal(len(tl.Bars), 4)               // a row per step and per child
	is.Equal(tl.Bars[0].X, float64(tlLabel))
	is.Equal(tl.Bars[0].W, float64(tlPlot)/4) // 50 of 200 ms
	is.Equal(tl.Bars[1].W, float64(tlMinBar)) // an instant step stays visible
	is.Equal(tl.Bars[2].Class, "step failed") // a failed step is marked so
	is.Equal(tl.Bars[3].Class, "child")
	is.Equal(tl.Bars[3].Href, "/wf/w-4")
	is.Equal(tl.Bars[3].X+tl.Bars[3].W, float64(tlLabel+tlPlot)) // it runs to now
	for i, b := range tl.Bars {
		is.Equal(b.Y, tlTop+i*tlRow) // rows in order
	}
	is.Equal(tl.Ticks[len(tl.Ticks)-1].Label, "+200.0ms")

	empty := drawTimeline(durable.WorkflowStatus{CreatedAt: t0, CompletedAt: t0}, nil, nil, t0)
	is.Equal(empty.Span, time.Millisecond) // no zero-width axis
	is.Equal(len(empty.Bars), 0)
}

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{420 * time.Microsecond, "0.42ms"},
		{12300 * time.Microsecond, "12.3ms"},
		{4510 * time.Millisecond, "4.51s"},
		{3*time.Minute + 12400*time.Millisecond, "3m12s"},
		{-2 * time.Second, "-2.00s"},
	} {
		is := is.New(t)
		is.Equal(human(tc.d), tc.want) // tc.d
	}
}
