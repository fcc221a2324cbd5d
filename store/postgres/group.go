package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dboslite/dboslite/store"
)

// Group commit. Every write of a running workflow (its creation, its
// steps, its outcome) is one statement that commits on its own, and under
// concurrency the round trips and the commits, on both sides, are what a
// workflow costs. So concurrent writes of one kind are written together:
// one statement, one round trip, one commit for the lot.
//
// No goroutine of the store's own does it, and nothing waits on a timer.
// A call that finds no batch of its kind in flight leads: it writes at
// once, alone, with the statement it would use without batching, so a
// lone write costs what it did. Calls that come while a batch is in
// flight queue up; when the batch returns, its leader hands over to the
// oldest of them, which writes the queue (up to maxGroup calls) in the
// next batch. Batches grow with the load, and with the time each takes,
// by themselves.
//
// A batch's statement applies each write's own conditions, row by row,
// and says which it wrote. Each caller then finishes alone: a write the
// statement did not apply asks why (not found, not the owner, …), exactly
// as the single-row path does after its statement. The statement is
// tried again as a whole after a transient error, as every kind batched
// is idempotent; if it fails for good, perhaps because of one write's
// arguments, each caller writes alone, to get its own answer.

// maxGroup bounds the writes one batch carries.
const maxGroup = 128

// ops are the statements of one kind of write.
type ops[A, R any] struct {
	// one writes a alone, with its retries, as without batching.
	one func(ctx context.Context, a A) (R, error)
	// many writes as in one statement, tried once. It returns, for each,
	// whether it wrote it, and then its result.
	many func(ctx context.Context, as []A) (wrote []bool, res []R, err error)
	// refused says why many did not write a, with its retries.
	refused func(ctx context.Context, a A) (R, error)
	// key, if set, keeps two writes of one key out of one statement,
	// which could not say which of them it applied: the later waits for
	// the next batch.
	key func(a A) string
}

// state is where a call stands once its batch has returned.
type state int

const (
	callWritten state = iota // res and err are its result
	callRefused              // the statement did not write it: ops.refused says why
	callAlone                // the statement failed for good: write it alone
)

// call is one write waiting for, or carried by, a batch.
type call[A, R any] struct {
	arg   A
	res   R
	err   error
	state state

	// done receives one value: false once the batch that carried the call
	// has returned, true if the call is to lead the next batch. A leader
	// is sent nothing.
	done  chan bool
	taken bool // in a batch, or chosen to lead one; guarded by group.mu
}

// group collects concurrent calls of one kind and writes them in batches,
// one batch in flight at a time.
type group[A, R any] struct {
	s   *Store
	ops ops[A, R]

	mu    sync.Mutex
	queue []*call[A, R] // waiting, oldest first
	busy  bool          // a leader is writing; false only while queue is empty

	largest atomic.Int64 // the largest batch so far, for tests
}

// do writes a, alone or in a batch, and returns its result. A call whose
// ctx ends while it waits for a batch returns ctx.Err() and writes
// nothing; once its batch is taken, it waits for the batch.
func (g *group[A, R]) do(ctx context.Context, a A) (R, error) {
	c := &call[A, R]{arg: a, done: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		select {
		case lead = <-c.done:
		case <-ctx.Done():
			g.mu.Lock()
			taken := c.taken
			if !taken {
				g.queue = slices.DeleteFunc(g.queue, func(q *call[A, R]) bool { return q == c })
			}
			g.mu.Unlock()
			if !taken {
				var zero R
				return zero, ctx.Err()
			}
			lead = <-c.done
		}
	}
	if lead {
		g.lead(ctx, c)
	}
	switch c.state {
	case callRefused:
		return g.ops.refused(ctx, a)
	case callAlone:
		return g.ops.one(ctx, a)
	}
	return c.res, c.err
}

// lead writes the next batch, which starts with c, then hands over to the
// oldest call left waiting, or marks the group idle.
func (g *group[A, R]) lead(ctx context.Context, c *call[A, R]) {
	g.mu.Lock()
	batch := g.take()
	g.mu.Unlock()
	if batch[0] != c {
		panic("postgres: a batch's leader is not its first call")
	}
	if n := int64(len(batch)); n > g.largest.Load() {
		g.largest.Store(n) // only leaders store, one at a time
	}
	g.write(ctx, batch)
	g.mu.Lock()
	var next *call[A, R]
	if len(g.queue) > 0 {
		next = g.queue[0]
		next.taken = true
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, b := range batch[1:] {
		b.done <- false
	}
	if next != nil {
		next.done <- true
	}
}

// take removes the next batch from the queue: up to maxGroup calls,
// oldest first, no two of one key. g.mu is held.
func (g *group[A, R]) take() []*call[A, R] {
	n := min(len(g.queue), maxGroup)
	batch := make([]*call[A, R], 0, n)
	var seen map[string]bool
	if g.ops.key != nil && len(g.queue) > 1 {
		seen = make(map[string]bool, n)
	}
	rest := g.queue[:0]
	for _, q := range g.queue {
		if len(batch) == n {
			rest = append(rest, q)
			continue
		}
		if seen != nil {
			k := g.ops.key(q.arg)
			if seen[k] {
				rest = append(rest, q)
				continue
			}
			seen[k] = true
		}
		q.taken = true
		batch = append(batch, q)
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	return batch
}

// write writes a batch. A batch of one is its leader's call, written
// alone with the leader's ctx. A larger one is one statement, made
// without the leader's deadline, which must not cut the others short.
func (g *group[A, R]) write(ctx context.Context, batch []*call[A, R]) {
	if len(batch) == 1 {
		c := batch[0]
		c.res, c.err = g.ops.one(ctx, c.arg)
		return
	}
	ctx = context.WithoutCancel(ctx)
	args := make([]A, len(batch))
	for i, c := range batch {
		args[i] = c.arg
	}
	var wrote []bool
	var res []R
	err := g.s.retry(ctx, idempotent, func() error {
		var err error
		wrote, res, err = g.ops.many(ctx, args)
		return err
	})
	for i, c := range batch {
		switch {
		case err == nil && wrote[i]:
			c.res = res[i]
		case err == nil:
			c.state = callRefused
		case errors.Is(err, store.ErrClosed) || classify(err).transient:
			c.err = err // every try failed, as each call's own would have
		default:
			c.state = callAlone
		}
	}
}
