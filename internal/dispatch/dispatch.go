// Package dispatch turns a queue definition and a worker's free slots
// into the store operation that claims work, and paces the polls that
// notice work other processes enqueued. The engine's dispatchers use it;
// users define queues with package queue.
package dispatch

import (
	"time"

	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// MaxClaim bounds how many workflows one claim takes, so one transaction
// stays short; a dispatcher that got a full batch claims again at once.
const MaxClaim = 512

// Free returns how many more workflows of q a worker running running of
// them may start: WorkerConcurrency minus running, at most MaxClaim.
func Free(q queue.Queue, running int) int {
	if q.WorkerConcurrency <= 0 {
		return MaxClaim
	}
	return max(0, min(MaxClaim, q.WorkerConcurrency-running))
}

// Worker names an engine claiming work: what it runs and what it stamps
// on what it claims.
type Worker struct {
	ExecutorID         string
	Owner              string // its instance, which owns what it claims
	ApplicationVersion string
	Names              []string // the workflow names it has registered
}

// ClaimParams returns the store operation that claims work for w, which
// runs running workflows of this queue now. It reports false when the
// worker has no free slot, and then nothing need be asked of the store.
func ClaimParams(q queue.Queue, w Worker, running int, now time.Time) (store.ClaimParams, bool) {
	free := Free(q, running)
	p := store.ClaimParams{
		Queue:                q.Name,
		Names:                w.Names,
		ExecutorID:           w.ExecutorID,
		Owner:                w.Owner,
		ApplicationVersion:   w.ApplicationVersion,
		Max:                  free,
		GlobalConcurrency:    q.GlobalConcurrency,
		PartitionConcurrency: q.PartitionConcurrency,
		Now:                  now,
	}
	if r := q.RateLimit; r != nil {
		p.RateLimit, p.RatePeriod = r.Limit, r.Period
	}
	return p, free > 0
}

// Backoff paces a dispatcher's polls: from queue.MinPollInterval,
// doubling while polls find nothing, up to the queue's PollInterval.
type Backoff struct {
	max, next time.Duration
}

// NewBackoff returns the back-off of q's dispatcher. A rate-limited queue
// polls at least ten times per period, so a window that reopens is noticed
// within a tenth of the period.
func NewBackoff(q queue.Queue) *Backoff {
	limit := q.PollEvery()
	if r := q.RateLimit; r != nil {
		limit = max(queue.MinPollInterval, min(limit, r.Period/10))
	}
	return &Backoff{max: limit, next: queue.MinPollInterval}
}

// Next returns how long to wait before the next poll, and doubles the
// wait after it.
func (b *Backoff) Next() time.Duration {
	d := min(b.next, b.max)
	b.next = min(b.next*2, b.max)
	return d
}

// Reset starts the back-off again from queue.MinPollInterval, after a
// poll that found work.
func (b *Backoff) Reset() { b.next = queue.MinPollInterval }
