package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"

	"github.com/dboslite/dboslite/durable"
)

// inspector is what every command works with: the client, where to
// write, and how.
type inspector struct {
	c     *durable.Client
	db    string // the system database URL c opened
	out   io.Writer
	color bool // ANSI colours: only on a terminal, never with NO_COLOR
	tty   bool // out is a terminal: watch redraws in place
	loc   *time.Location
}

func newInspector(out io.Writer, env func(string) string) *inspector {
	return &inspector{out: out, color: colorful(out, env), tty: terminal(out), loc: time.Local}
}

// terminal reports whether out is a terminal.
func terminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// colorful reports whether out is a terminal that wants colours: not a
// pipe or a file, and neither NO_COLOR set (https://no-color.org) nor
// TERM=dumb.
func colorful(out io.Writer, env func(string) string) bool {
	return env("NO_COLOR") == "" && env("TERM") != "dumb" && terminal(out)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// table returns a tabwriter for aligned columns; Flush it.
func (in *inspector) table() *tabwriter.Writer {
	return tabwriter.NewWriter(in.out, 0, 0, 2, ' ', 0)
}

// The colours, all of the same length so that tabwriter keeps columns
// aligned.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	cyan   = "36"
	grey   = "90"
)

// paint colours s on a terminal.
func (in *inspector) paint(code, s string) string {
	if !in.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// status shows a status in its colour.
func (in *inspector) status(s durable.Status) string {
	code := grey
	switch s {
	case durable.StatusSuccess:
		code = green
	case durable.StatusError, durable.StatusMaxRecoveryAttemptsExceeded:
		code = red
	case durable.StatusPending:
		code = yellow
	case durable.StatusEnqueued:
		code = cyan
	}
	return in.paint(code, string(s))
}

// when shows a time in the local zone; "-" for none.
func (in *inspector) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(in.loc).Format("2006-01-02 15:04:05")
}

// whenMilli shows a time to the millisecond.
func (in *inspector) whenMilli(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(in.loc).Format("2006-01-02 15:04:05.000")
}

// human shows a duration for people: 0s, 850µs, 12ms, 1.2s, 3m05s, 2h03m,
// 3d04h.
func human(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < 0:
		return "-" + human(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// took is how long a workflow ran: until it completed, or until now while
// it is active.
func took(wf durable.WorkflowStatus, now time.Time) string {
	end := wf.CompletedAt
	if end.IsZero() {
		if wf.Status.Terminal() {
			end = wf.UpdatedAt
		} else {
			return human(now.Sub(wf.CreatedAt)) + "…"
		}
	}
	return human(end.Sub(wf.CreatedAt))
}

// note stands in for a payload that cannot be shown.
type note string

// payloadWidth is how many characters of a payload are shown without
// -full.
const payloadWidth = 60

// payload shows a decoded value as compact JSON, cut to width runes
// unless width is 0.
func payload(v any, width int) string {
	if v == nil {
		return "-"
	}
	if n, ok := v.(note); ok {
		return string(n)
	}
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	return cut(s, width)
}

// cut shortens s to width runes, ending in "…"; width 0 keeps it whole.
// Line breaks become spaces so that a table row stays one line.
func cut(s string, width int) string {
	if width > 0 {
		s = strings.Join(strings.Fields(s), " ")
	}
	if width == 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// dash shows "-" for an empty field, so that no table cell is blank.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeJSON writes v as indented JSON.
func (in *inspector) writeJSON(v any) error {
	enc := json.NewEncoder(in.out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// millis is a time as Unix milliseconds, as the DBOS tools write it; 0
// for none.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
