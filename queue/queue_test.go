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
