package postgres

import "time"

// ListenerPID returns the process ID of the backend serving the store's
// listening connection.
func (s *Store) ListenerPID() uint32 { return s.listener.pid.Load() }

// ListenerConns returns how many listening connections the store made.
func (s *Store) ListenerConns() int64 { return s.listener.conns.Load() }

// SetListenerIdle sets how long the listening connection may stay quiet
// before it is pinged; it takes effect from the next wait.
func (s *Store) SetListenerIdle(d time.Duration) { s.listener.idle.Store(int64(d)) }

// SetListenerPause sets the first pause before the listening connection
// is made again.
func (s *Store) SetListenerPause(d time.Duration) { s.listener.pause.Store(int64(d)) }

// LargestBatches returns the largest batch written so far of steps, of
// outcomes and of creates.
func (s *Store) LargestBatches() (steps, outcomes, creates int) {
	return int(s.steps.largest.Load()), int(s.outcomes.largest.Load()), int(s.creates.largest.Load())
}

// Queued returns how many calls wait for a batch: RecordSteps,
// SetOutcomes and CreateWorkflows.
func (s *Store) Queued() (steps, outcomes, creates int) {
	return waiting(s.steps), waiting(s.outcomes), waiting(s.creates)
}

func waiting[A, R any](g *group[A, R]) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// Notifying reports whether the store runs a notifier.
func (s *Store) Notifying() bool { return s.notifier != nil }

// ListQuery and GCQuery return the statements ListWorkflows and
// CollectGarbage run, for tests of their plans.
var (
	ListQuery = listQuery
	GCQuery   = gcQuery
)
