package queue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/queue"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		q     queue.Queue
		field string // "" when valid
	}{
		{"unlimited", queue.Queue{Name: "q"}, ""},
		{"all limits", queue.Queue{Name: "q", GlobalConcurrency: 10, WorkerConcurrency: 5, PartitionConcurrency: 2,
			RateLimit: &queue.RateLimit{Limit: 3, Period: time.Second}, PollInterval: time.Millisecond}, ""},
		{"worker equal to global", queue.Queue{Name: "q", GlobalConcurrency: 5, WorkerConcurrency: 5}, ""},
		{"worker without global", queue.Queue{Name: "q", WorkerConcurrency: 5}, ""},
		{"no name", queue.Queue{}, "Name"},
		{"worker over global", queue.Queue{Name: "q", GlobalConcurrency: 2, WorkerConcurrency: 3}, "WorkerConcurrency"},
		{"partition over global", queue.Queue{Name: "q", GlobalConcurrency: 2, PartitionConcurrency: 3}, "PartitionConcurrency"},
		{"negative global", queue.Queue{Name: "q", GlobalConcurrency: -1}, "GlobalConcurrency"},
		{"negative worker", queue.Queue{Name: "q", WorkerConcurrency: -1}, "WorkerConcurrency"},
		{"negative partition", queue.Queue{Name: "q", PartitionConcurrency: -1}, "PartitionConcurrency"},
		{"negative poll", queue.Queue{Name: "q", PollInterval: -time.Second}, "PollInterval"},
		{"zero period", queue.Queue{Name: "q", RateLimit: &queue.RateLimit{Limit: 1}}, "RateLimit.Period"},
		{"zero limit", queue.Queue{Name: "q", RateLimit: &queue.RateLimit{Period: time.Second}}, "RateLimit.Limit"},
		{"sub-millisecond period", queue.Queue{Name: "q", RateLimit: &queue.RateLimit{Limit: 1, Period: time.Microsecond}}, "RateLimit.Period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			err := c.q.Validate()
			if c.field == "" {
				is.NoErr(err) // a valid definition
				return
			}
			is.True(errors.Is(err, queue.ErrInvalidQueue)) // matches the sentinel
			var de *queue.DefinitionError
			is.True(errors.As(err, &de)) // a typed error
			is.Equal(de.Field, c.field)  // naming the field
		})
	}
}

func TestClaimParams(t *testing.T) {
	is := is.New(t)
	w := queue.Worker{ExecutorID: "e", ApplicationVersion: "v1", Names: []string{"a"}}
	now := time.Unix(100, 0)

	q := queue.Queue{Name: "q", GlobalConcurrency: 8, WorkerConcurrency: 3,
		RateLimit: &queue.RateLimit{Limit: 4, Period: time.Second}, PartitionConcurrency: 2}
	p, ok := q.ClaimParams(w, 1, now)
	is.True(ok)                         // a free slot
	is.Equal(p.Max, 2)                  // the worker's free slots
	is.Equal(p.GlobalConcurrency, 8)    // passed to the store
	is.Equal(p.PartitionConcurrency, 2) // passed to the store
	is.Equal(p.RateLimit, 4)            // passed to the store
	is.Equal(p.RatePeriod, time.Second) // passed to the store
	is.Equal(p.ExecutorID, "e")         // the claimer
	is.Equal(p.Names, []string{"a"})    // what it runs
	_, ok = q.ClaimParams(w, 3, now)
	is.True(!ok) // no free slot: nothing to ask the store

	unlimited, ok := queue.Queue{Name: "q"}.ClaimParams(w, 10_000, now)
	is.True(ok)                             // no worker limit
	is.Equal(unlimited.Max, queue.MaxClaim) // one batch at a time
}

func TestBackoff(t *testing.T) {
	is := is.New(t)
	b := queue.NewBackoff(queue.Queue{Name: "q", PollInterval: 30 * time.Millisecond})
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	ms := time.Millisecond
	is.Equal(got, []time.Duration{5 * ms, 10 * ms, 20 * ms, 30 * ms, 30 * ms}) // doubles up to PollInterval
	b.Reset()
	is.Equal(b.Next(), 5*ms) // starts again after work was found

	d := queue.NewBackoff(queue.Queue{Name: "q"})
	for range 20 {
		d.Next()
	}
	is.Equal(d.Next(), queue.DefaultPollInterval) // defaults to 1s

	r := queue.NewBackoff(queue.Queue{Name: "q", RateLimit: &queue.RateLimit{Limit: 1, Period: 500 * ms}})
	for range 20 {
		r.Next()
	}
	is.Equal(r.Next(), 50*ms) // a tenth of the rate limit's period
}
