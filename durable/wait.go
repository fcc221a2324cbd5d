package durable

import (
	"context"
	"time"

	"github.com/dboslite/dboslite/store"
)

// pollMax bounds the back-off of waiters on a store that cannot wake them.
const pollMax = 50 * time.Millisecond

// wait calls check until it reports done or fails, and in between waits
// for a commit touching one of keys (at most two), the deadline (zero for
// none; then it returns ErrTimeout) or the end of ctx. On a store that is
// not a store.Watcher it polls with back-off.
func (e *Engine) wait(ctx context.Context, deadline time.Time, check func() (bool, error), keys ...string) error {
	var ch [2]<-chan struct{}
	poll := time.Duration(0)
	if w, ok := e.store.(store.Watcher); ok {
		for i, k := range keys {
			c, stop := w.Watch(k)
			defer stop()
			ch[i] = c
		}
	} else {
		poll = time.Millisecond
	}
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
		if poll > 0 && (d < 0 || poll < d) {
			d = poll
			poll = min(poll*2, pollMax)
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
		case <-ch[0]:
		case <-ch[1]:
		case <-tc:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
