package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestHuman(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Microsecond, "850µs"},
		{12 * time.Millisecond, "12ms"},
		{1250 * time.Millisecond, "1.2s"},
		{42 * time.Second, "42s"},
		{3*time.Minute + 5*time.Second, "3m05s"},
		{2*time.Hour + 3*time.Minute, "2h03m"},
		{76 * time.Hour, "3d04h"},
		{-2 * time.Second, "-2.0s"},
	}
	for _, c := range cases {
		is := is.New(t)
		is.Equal(human(c.d), c.want) // humanised
	}
}

func TestCut(t *testing.T) {
	is := is.New(t)
	is.Equal(cut("short", 10), "short")                     // short enough
	is.Equal(cut("a longer text", 6), "a lon…")             // cut, ending in an ellipsis
	is.Equal(cut("été à l'eau", 4), "été…")                 // by runes, not bytes
	is.Equal(cut("two\nlines", 20), "two lines")            // one line in a table
	is.Equal(cut("kept\nwhole", 0), "kept\nwhole")          // -full keeps it as it is
	is.Equal(payload(map[string]int{"a": 1}, 0), `{"a":1}`) // payloads as compact JSON
}

// Colours only on a terminal: never in a pipe, a buffer, or with
// NO_COLOR.
func TestColour(t *testing.T) {
	is := is.New(t)
	none := func(string) string { return "" }
	r, w, err := os.Pipe()
	is.NoErr(err)
	defer r.Close()
	defer w.Close()
	is.True(!colorful(w, none))               // a pipe gets no colour
	is.True(!colorful(&bytes.Buffer{}, none)) // nor a buffer
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		noColor := func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return ""
		}
		is.True(colorful(tty, none))     // a terminal does
		is.True(!colorful(tty, noColor)) // unless NO_COLOR is set
	}
	in := &inspector{color: true}
	is.Equal(in.status("ERROR"), "\x1b[31mERROR\x1b[0m") // red on a terminal
	in.color = false
	is.Equal(in.status("ERROR"), "ERROR") // plain elsewhere
}

// cancelAfterFirst cancels a context once something was written: Ctrl-C
// during watch.
type cancelAfterFirst struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelAfterFirst) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.Buffer.Write(p)
}

// watch draws a frame, then ends cleanly, with status 0, on Ctrl-C.
func TestWatchEndsOnInterrupt(t *testing.T) {
	is := is.New(t)
	url := sqliteURL(t)
	fixture(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	out := &cancelAfterFirst{cancel: cancel}
	var errOut bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-db", url, "watch", "-interval", "1h"}, out, &errOut, os.Getenv) }()
	select {
	case code := <-done:
		is.Equal(code, 0)             // a clean end
		is.Equal(errOut.String(), "") // with nothing to report
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not end on Ctrl-C")
	}
	is.Equal(strings.Count(out.String(), "RUNNING AND ENQUEUED"), 1) // one frame was drawn
}
