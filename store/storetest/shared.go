package storetest

import (
	"testing"

	"github.com/dboslite/dboslite/store"
)

// racers is how many stores on one database the cases on several stores
// race, as so many processes would.
const racers = 8

// sharedStores returns n stores on one new database: the first made by
// newStore, the others by shared, as n processes would open it. It skips
// the test if Run was not given WithShared.
//
// A race between stores can fail where a race within one store cannot:
// each store serialises its own calls however it likes (one writer
// connection, a mutex, a batch), but only the database serialises calls
// made through different stores.
func sharedStores(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store, n int) []store.Store {
	if shared == nil {
		t.Skip("Run has no WithShared: the backend cannot open several stores on one database")
	}
	out := []store.Store{newStore(t)}
	for range n - 1 {
		out = append(out, shared(t, out[0]))
	}
	return out
}
