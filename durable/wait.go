package durable

import (
	"context"
	"time"

	"github.com/dboslite/dboslite/store"
)

// Waiters on a store that cannot wake them, or whose feed of other
// processes' commits is lost, poll: from pollMin, doubling to pollMax.
const (
	pollMin = time.Millisecond
	pollMax = 50 * time.Millisecond
)

// wait calls check until it reports done or fails, and in between waits
// for a commit touching one of keys, the deadline (zero for none; then it
// returns ErrTimeout) or the end of ctx. On a store that is not a
// store.Watcher, or while its feed is lost, it also polls with back-off.
func (e *Engine) wait(ctx context.Context, deadline time.Time, check func() (bool, error), keys ...string) error {
	var wake <-chan struct{}
	var recheck time.Duration // 0: wake-ups are not lost
	if r, ok := e.store.(store.Rechecker); ok {
		recheck = r.RecheckEvery()
	}
	w, watches := e.store.(store.Watcher)
	if watches {
		ch, stop := w.Watch(ctx, store.WatchParams{Keys: keys})
		defer stop()
		wake = ch
	}
	poll := pollMin
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		d := time.Duration(-1)
		if !deadline.IsZero() {
			if d = deadline.Sub(e.now()); d <= 0 {
				return ErrTimeout
			}
		}
		if !watches || w.FeedLost() {
			if d < 0 || poll < d {
				d = poll
			}
			poll = min(poll*2, pollMax)
		} else if recheck > 0 && (d < 0 || recheck < d) {
			d = recheck
		}
		var tc <-chan time.Time
		if d >= 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tc = timer.C
		}
		select {
		case <-wake:
		case <-tc:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
