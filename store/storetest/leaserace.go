package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// Instances heartbeat through their own store and are declared dead
// through another's: this case races the two on one database.

func testConcurrentLeases(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store) {
	t.Run("expiry on one store spares heartbeats on another and takes the lapsed", func(t *testing.T) {
		// Nothing can tell the database's clock to move on: the case
		// runs in real time. The lease is twenty heartbeat intervals, so
		// a heartbeat late by a loaded machine is still in time.
		const (
			interval = 10 * time.Millisecond
			lease    = 20 * interval
		)
		is := is.New(t)
		stores := sharedStores(t, newStore, shared, 2)
		beater, reaper := stores[0], stores[1]
		ctx := t.Context()
		beating := []string{"inst-a", "inst-b", "inst-c"}
		for _, id := range beating {
			register(t, beater, id)
		}
		register(t, beater, "inst-quits")

		quit := make(chan struct{}) // inst-quits heartbeats no more
		done := make(chan struct{}) // the race is over
		var beatErr, expireErr error
		var expired []string
		var wg sync.WaitGroup
		wg.Go(func() { // heartbeats every interval, through beater
			ids, quitting := slices.Concat(beating, []string{"inst-quits"}), quit
			ticker := time.NewTicker(interval)
			defer ticker.Stop()
			for {
				select {
				case <-done:
					return
				case <-quitting:
					ids, quitting = beating, nil
					continue
				case <-ticker.C:
				}
				for _, id := range ids {
					if err := beater.Heartbeat(ctx, id); err != nil {
						beatErr = fmt.Errorf("heartbeat of %s: %w", id, err)
						return
					}
				}
			}
		})
		wg.Go(func() { // expires again and again, through reaper
			for {
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
				ids, err := reaper.ExpireInstances(ctx, lease)
				if err != nil {
					expireErr = err
					return
				}
				expired = append(expired, ids...)
			}
		})
		time.Sleep(lease) // all heartbeat, over a lease
		close(quit)
		time.Sleep(2 * lease) // inst-quits lapses, the others go on over two more
		close(done)
		wg.Wait()

		is.NoErr(beatErr)                                                              // no heartbeating instance is declared dead
		is.NoErr(expireErr)                                                            // every expiry succeeds
		is.Equal(expired, []string{"inst-quits"})                                      // the one that stopped heartbeating is declared dead, once, and only it
		is.Equal(liveIDs(t, reaper), beating)                                          // the others are live
		is.True(errors.Is(beater.Heartbeat(ctx, "inst-quits"), store.ErrInstanceLost)) // a heartbeat that comes later is refused
	})
}
