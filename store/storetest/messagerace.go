package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// A stream's offsets and a topic's messages are shared by every process
// on the database: these cases write and consume through several stores
// at once, then read what the database holds.

func testConcurrentStreamWrites(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store) {
	// value is writer w's n-th value.
	value := func(w, n int) string { return fmt.Sprintf("%d-%d", w, n) }

	t.Run("writes on several stores take offsets 0 to n-1, each once", func(t *testing.T) {
		const writes = 25
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		ctx := t.Context()
		create(t, stores[0], params("wf", 0))
		errs := make([]error, racers)
		race(racers, func(w int) {
			for n := range writes {
				if err := stores[w].WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "s", Value: []byte(value(w, n))}); err != nil {
					errs[w] = err
					return
				}
			}
		})
		for _, err := range errs {
			is.NoErr(err) // every write succeeds
		}

		entries, closed, err := stores[racers-1].ReadStream(ctx, "wf", "s", 0)
		is.NoErr(err)                         // read the stream
		is.True(!closed)                      // nobody closed it
		is.Equal(len(entries), racers*writes) // every value is written
		seen := map[string]bool{}
		next := make([]int, racers) // each writer's next value
		for i, e := range entries {
			is.Equal(e.Offset, i) // offsets from 0, with no gap and no duplicate
			v := string(e.Value)
			is.True(!seen[v]) // each value once
			seen[v] = true
			var w, n int
			_, err := fmt.Sscanf(v, "%d-%d", &w, &n)
			is.NoErr(err)        // a value the test wrote
			is.Equal(n, next[w]) // each writer's values in the order it wrote them
			next[w]++
		}
	})

	t.Run("a close on one store ends the writes of all", func(t *testing.T) {
		const writes, closeAfter = 25, 10
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		ctx := t.Context()
		create(t, stores[0], params("wf", 0))
		accepted := make([]int, racers)
		errs := make([]error, racers)
		race(racers, func(w int) {
			for n := range writes {
				if w == 0 && n == closeAfter {
					errs[w] = stores[w].WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "s", Close: true})
					return
				}
				if err := stores[w].WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "s", Value: []byte(value(w, n))}); err != nil {
					errs[w] = err
					return
				}
				accepted[w]++
			}
		})
		is.NoErr(errs[0]) // the close succeeds
		for w := 1; w < racers; w++ {
			if accepted[w] < writes {
				is.True(errors.Is(errs[w], store.ErrStreamClosed)) // a write is refused only for the close
			}
		}

		entries, closed, err := stores[racers-1].ReadStream(ctx, "wf", "s", 0)
		is.NoErr(err)   // read the stream
		is.True(closed) // closed after its values
		var want []string
		for w, n := range accepted {
			for i := range n {
				want = append(want, value(w, i))
			}
		}
		var got []string
		for i, e := range entries {
			is.Equal(e.Offset, i) // offsets from 0, with no gap and no duplicate
			got = append(got, string(e.Value))
		}
		slices.Sort(want)
		slices.Sort(got)
		is.Equal(got, want) // the stream holds exactly the accepted writes: none after the close
	})
}

func testConcurrentConsumers(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store) {
	t.Run("consumers on several stores take each message once", func(t *testing.T) {
		const msgs = 200
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, racers)
		ctx := t.Context()
		create(t, stores[0], params("dest", 0))
		for m := range msgs {
			send(t, stores[m%racers], "dest", "t", strconv.Itoa(m)) // one after another: message m is the m-th oldest
		}

		took := make([][]int, racers) // the messages consumer i took, in order
		errs := make([]error, racers)
		stepID := func(i, n int) int { return i*1000 + n + 1 }
		race(racers, func(i int) {
			for n := 0; ; n++ {
				b, ok, err := stores[i].ConsumeMessage(ctx, store.ConsumeParams{WorkflowID: "dest", Topic: "t",
					Step: store.Step{WorkflowID: "dest", StepID: stepID(i, n), Name: "recv", CompletedAt: t0}})
				if err != nil || !ok {
					errs[i] = err
					return
				}
				m, err := strconv.Atoi(string(b))
				if err != nil {
					errs[i] = fmt.Errorf("payload %q: %w", b, err)
					return
				}
				took[i] = append(took[i], m)
			}
		})

		var all []int
		payloads := map[int]string{} // step ID: the payload its consumer got
		for i, err := range errs {
			is.NoErr(err)                     // every consume succeeds
			is.True(slices.IsSorted(took[i])) // each consumer takes the oldest message first
			for n, m := range took[i] {
				payloads[stepID(i, n)] = strconv.Itoa(m)
			}
			all = append(all, took[i]...)
		}
		slices.Sort(all)
		want := make([]int, msgs)
		for m := range want {
			want[m] = m
		}
		is.Equal(all, want) // every message is consumed, and none twice
		_, ok := consume(t, stores[racers-1], "dest", "t", 1_000_000)
		is.True(!ok) // none is left

		recorded := steps(t, stores[racers-1], "dest")
		is.Equal(len(recorded), msgs) // a step for each message consumed
		for _, st := range recorded {
			is.Equal(string(st.Output), payloads[st.StepID]) // each step holds the message its consumer got
		}
	})
}
