package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
)

// The group's own rules, without a database: ops made of Go functions
// record what each batch carried.

// fakeOps records the batches of a group and answers by argument: an
// argument starting with "refuse" is not written by many, one starting
// with "bad" makes many fail for good.
type fakeOps struct {
	mu       sync.Mutex
	batches  [][]string
	inFlight atomic.Int32
	overlap  atomic.Bool   // two writes ran at once
	hold     chan struct{} // if set, the first write waits for it
	held     chan struct{} // closed once the first write waits
	once     sync.Once

	// If set, many waits for holdMany, then records its ctx's error.
	holdMany, heldMany chan struct{}
	manyErr            error
}

func (f *fakeOps) enter(args []string) {
	if f.inFlight.Add(1) > 1 {
		f.overlap.Store(true)
	}
	f.mu.Lock()
	f.batches = append(f.batches, slices.Clone(args))
	f.mu.Unlock()
	if f.hold != nil {
		f.once.Do(func() {
			close(f.held)
			<-f.hold
		})
	}
}

func (f *fakeOps) ops() ops[string, string] {
	return ops[string, string]{
		one: func(ctx context.Context, a string) (string, error) {
			f.enter([]string{a})
			defer f.inFlight.Add(-1)
			return "one " + a, nil
		},
		many: func(ctx context.Context, as []string) ([]bool, []string, error) {
			f.enter(as)
			defer f.inFlight.Add(-1)
			if f.holdMany != nil {
				close(f.heldMany)
				<-f.holdMany
				f.manyErr = ctx.Err()
			}
			wrote, res := make([]bool, len(as)), make([]string, len(as))
			for i, a := range as {
				if len(a) >= 3 && a[:3] == "bad" {
					return nil, nil, errors.New("a bad argument")
				}
				wrote[i] = len(a) < 6 || a[:6] != "refuse"
				res[i] = "many " + a
			}
			return wrote, res, nil
		},
		refused: func(ctx context.Context, a string) (string, error) { return "refused " + a, nil },
		key:     func(a string) string { return a },
	}
}

func newFakeGroup(f *fakeOps) *group[string, string] {
	return &group[string, string]{s: &Store{}, ops: f.ops()}
}

// queued waits until n calls wait in g's queue.
func queued(t *testing.T, g *group[string, string], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		got := len(g.queue)
		g.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d calls never queued", n)
}

// startHeld starts a call that leads and holds its write until release
// is called; the returned channel gives its result.
func startHeld(t *testing.T, g *group[string, string], f *fakeOps, arg string) (release func(), res <-chan string) {
	t.Helper()
	f.hold, f.held = make(chan struct{}), make(chan struct{})
	ch := make(chan string, 1)
	go func() {
		r, _ := g.do(context.Background(), arg)
		ch <- r
	}()
	<-f.held
	return func() { close(f.hold) }, ch
}

func TestGroupLoneCall(t *testing.T) {
	is := is.New(t)
	f := &fakeOps{}
	g := newFakeGroup(f)
	for i := range 3 {
		res, err := g.do(t.Context(), fmt.Sprint("a", i))
		is.NoErr(err)
		is.Equal(res, fmt.Sprint("one a", i)) // alone, a call is written by one
	}
	is.Equal(len(f.batches), 3) // each at once, alone
}

func TestGroupBatchesWhileInFlight(t *testing.T) {
	is := is.New(t)
	f := &fakeOps{}
	g := newFakeGroup(f)
	release, first := startHeld(t, g, f, "lead")
	const n = maxGroup + 10
	results := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], _ = g.do(context.Background(), fmt.Sprintf("c%03d", i))
		})
	}
	queued(t, g, n)
	release()
	wg.Wait()
	is.Equal(<-first, "one lead") // the leader was alone
	is.True(!f.overlap.Load())    // one batch in flight at a time
	is.Equal(len(f.batches), 3)   // the leader, then the queue in two batches
	is.Equal(len(f.batches[1]), maxGroup)
	is.Equal(len(f.batches[2]), n-maxGroup)
	for i, r := range results {
		is.Equal(r, fmt.Sprintf("many c%03d", i)) // each its own result
	}
}

func TestGroupKeysApart(t *testing.T) {
	is := is.New(t)
	f := &fakeOps{}
	g := newFakeGroup(f)
	release, first := startHeld(t, g, f, "lead")
	var wg sync.WaitGroup
	for i, a := range []string{"x", "y", "x", "x"} {
		wg.Go(func() { g.do(context.Background(), a) })
		queued(t, g, i+1) // in this order
	}
	release()
	wg.Wait()
	<-first
	is.Equal(f.batches[1:], [][]string{{"x", "y"}, {"x"}, {"x"}}) // no key twice in a batch
}

func TestGroupRefusedAndFailed(t *testing.T) {
	is := is.New(t)
	f := &fakeOps{}
	g := newFakeGroup(f)
	run := func(args ...string) []string {
		f.once = sync.Once{}
		release, first := startHeld(t, g, f, "lead")
		res := make([]string, len(args))
		var wg sync.WaitGroup
		for i, a := range args {
			wg.Go(func() { res[i], _ = g.do(context.Background(), a) })
		}
		queued(t, g, len(args))
		release()
		wg.Wait()
		<-first // the group is idle again
		return res
	}
	is.Equal(run("a", "refuse-b"), []string{"many a", "refused refuse-b"}) // refused asks why, alone
	is.Equal(run("a", "bad-b"), []string{"one a", "one bad-b"})            // a batch that fails for good: each alone
}

func TestGroupCancelWhileQueued(t *testing.T) {
	is := is.New(t)
	f := &fakeOps{}
	g := newFakeGroup(f)
	release, _ := startHeld(t, g, f, "lead")
	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan error, 1)
	go func() {
		_, err := g.do(ctx, "gone")
		gone <- err
	}()
	stays := make(chan string, 1)
	go func() {
		r, _ := g.do(context.Background(), "stays")
		stays <- r
	}()
	queued(t, g, 2)
	cancel()
	is.True(errors.Is(<-gone, context.Canceled)) // a queued call leaves when its ctx ends
	queued(t, g, 1)
	release()
	is.Equal(<-stays, "one stays")                       // the next leader goes on, alone
	is.Equal(f.batches, [][]string{{"lead"}, {"stays"}}) // "gone" was never written
}

func TestGroupLeaderCancelled(t *testing.T) {
	is := is.New(t)
	f := &fakeOps{holdMany: make(chan struct{}), heldMany: make(chan struct{})}
	g := newFakeGroup(f)
	release, _ := startHeld(t, g, f, "lead")
	ctx, cancel := context.WithCancel(t.Context())
	led := make(chan string, 1)
	go func() {
		r, _ := g.do(ctx, "a") // the oldest waiting: it leads the next batch
		led <- r
	}()
	queued(t, g, 1)
	other := make(chan string, 1)
	go func() {
		r, _ := g.do(context.Background(), "b")
		other <- r
	}()
	queued(t, g, 2)
	release()
	<-f.heldMany
	cancel() // the leader's ctx ends while its batch is written
	close(f.holdMany)
	is.Equal(<-led, "many a")   // the leader's own write is done
	is.Equal(<-other, "many b") // and the others'
	is.NoErr(f.manyErr)         // the batch did not see the leader's ctx end
}
