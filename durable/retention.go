package durable

import (
	"time"
)

// retain applies Config.RetainFor and RetainNewest every
// RetentionInterval until Shutdown.
func (e *Engine) retain() {
	defer e.loops.Done()
	t := time.NewTicker(e.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-e.life.Done():
			return
		}
		r := Retention{KeepNewest: e.cfg.RetainNewest}
		if e.cfg.RetainFor > 0 {
			r.CompletedBefore = e.now().Add(-e.cfg.RetainFor)
		}
		n, err := e.CollectGarbage(e.life, r)
		switch {
		case err != nil && e.life.Err() == nil:
			e.log.Warn("durable: delete finished workflows past their retention", "err", err)
		case n > 0:
			e.log.Info("durable: deleted finished workflows past their retention", "count", n)
		}
	}
}
