package queue

import "time"

// Polling bounds. A dispatcher polls for work other processes enqueued,
// backing off from MinPollInterval to its queue's PollInterval while it
// finds none.
const (
	MinPollInterval     = 5 * time.Millisecond
	DefaultPollInterval = time.Second
)

// Queue is a named queue and its limits. Zero limits do not limit.
type Queue struct {
	// Name identifies the queue in the system database. Required.
	Name string

	// GlobalConcurrency bounds the queue's running workflows, counted
	// across every process sharing the system database.
	GlobalConcurrency int

	// WorkerConcurrency bounds the queue's workflows running in one
	// process. It may not exceed GlobalConcurrency.
	WorkerConcurrency int

	// RateLimit bounds how many workflows start within any window of its
	// Period, across every process.
	RateLimit *RateLimit

	// PartitionConcurrency bounds the running workflows of each partition
	// key. Setting it makes the queue partitioned: every enqueue then
	// needs a partition key. It may not exceed GlobalConcurrency.
	PartitionConcurrency int

	// PollInterval is the longest a dispatcher waits before looking again
	// for work it was not told of: work enqueued by another process, a
	// delay or a rate-limit window running out. Defaults to 1s; values
	// under 5ms count as 5ms. A rate-limited queue polls at least ten
	// times per RateLimit.Period.
	PollInterval time.Duration
}

// RateLimit allows at most Limit starts in any window of Period.
type RateLimit struct {
	Limit  int
	Period time.Duration
}

// Partitioned reports whether the queue is split by partition key.
func (q Queue) Partitioned() bool { return q.PartitionConcurrency > 0 }

// Validate returns a *DefinitionError for a definition that cannot work.
func (q Queue) Validate() error {
	bad := func(field, problem string) error {
		return &DefinitionError{Queue: q.Name, Field: field, Problem: problem}
	}
	switch {
	case q.Name == "":
		return bad("Name", "is empty")
	case q.GlobalConcurrency < 0:
		return bad("GlobalConcurrency", "is negative")
	case q.WorkerConcurrency < 0:
		return bad("WorkerConcurrency", "is negative")
	case q.PartitionConcurrency < 0:
		return bad("PartitionConcurrency", "is negative")
	case q.PollInterval < 0:
		return bad("PollInterval", "is negative")
	case q.GlobalConcurrency > 0 && q.WorkerConcurrency > q.GlobalConcurrency:
		return bad("WorkerConcurrency", "exceeds GlobalConcurrency: no worker could use its share")
	case q.GlobalConcurrency > 0 && q.PartitionConcurrency > q.GlobalConcurrency:
		return bad("PartitionConcurrency", "exceeds GlobalConcurrency")
	}
	if r := q.RateLimit; r != nil {
		switch {
		case r.Limit <= 0:
			return bad("RateLimit.Limit", "must be positive")
		case r.Period <= 0:
			return bad("RateLimit.Period", "must be positive")
		case r.Period < time.Millisecond:
			return bad("RateLimit.Period", "is under the store's 1ms resolution")
		}
	}
	return nil
}

// PollEvery is PollInterval with its default and floor applied: the
// longest a dispatcher of q waits before looking for work again.
func (q Queue) PollEvery() time.Duration {
	switch {
	case q.PollInterval == 0:
		return DefaultPollInterval
	case q.PollInterval < MinPollInterval:
		return MinPollInterval
	}
	return q.PollInterval
}
