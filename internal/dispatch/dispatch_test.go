package dispatch_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/internal/dispatch"
	"github.com/dboslite/dboslite/queue"
)

func TestClaimParams(t *testing.T) {
	is := is.New(t)
	w := dispatch.Worker{ExecutorID: "e", Owner: "i", ApplicationVersion: "v1", Names: []string{"a"}}
	now := time.Unix(100, 0)

	q := queue.Queue{Name: "q", GlobalConcurrency: 8, WorkerConcurrency: 3,
		RateLimit: &queue.RateLimit{Limit: 4, Period: time.Second}, PartitionConcurrency: 2}
	p, ok := dispatch.ClaimParams(q, w, 1, now)
	is.True(ok)                         // a free slot
	is.Equal(p.Max, 2)                  // the worker's free slots
	is.Equal(p.GlobalConcurrency, 8)    // passed to the store
	is.Equal(p.PartitionConcurrency, 2) // passed to the store
	is.Equal(p.RateLimit, 4)            // passed to the store
	is.Equal(p.RatePeriod, time.Second) // passed to the store
	is.Equal(p.ExecutorID, "e")         // the claimer
	is.Equal(p.Owner, "i")              // its instance owns what it claims
	is.Equal(p.Names, []string{"a"})    // what it runs
	_, ok = dispatch.ClaimParams(q, w, 3, now)
	is.True(!ok) // no free slot: nothing to ask the store

	unlimited, ok := dispatch.ClaimParams(queue.Queue{Name: "q"}, w, 10_000, now)
	is.True(ok)                                // no worker limit
	is.Equal(unlimited.Max, dispatch.MaxClaim) // one batch at a time
}

func TestBackoff(t *testing.T) {
	is := is.New(t)
	b := dispatch.NewBackoff(queue.Queue{Name: "q", PollInterval: 30 * time.Millisecond})
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	ms := time.Millisecond
	is.Equal(got, []time.Duration{5 * ms, 10 * ms, 20 * ms, 30 * ms, 30 * ms}) // doubles up to PollInterval
	b.Reset()
	is.Equal(b.Next(), 5*ms) // starts again after work was found

	d := dispatch.NewBackoff(queue.Queue{Name: "q"})
	for range 20 {
		d.Next()
	}
	is.Equal(d.Next(), queue.DefaultPollInterval) // defaults to 1s

	r := dispatch.NewBackoff(queue.Queue{Name: "q", RateLimit: &queue.RateLimit{Limit: 1, Period: 500 * ms}})
	for range 20 {
		r.Next()
	}
	is.Equal(r.Next(), 50*ms) // a tenth of the rate limit's period
}
