package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/sqlite"
	"github.com/dboslite/dboslite/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return setup(t)
	}, storetest.WithShared(func(t *testing.T, s store.Store) store.Store {
		return open(t, s.(*sqlite.Store).Path()) // as another process would
	}))
}

// setup opens a store on a new file in t.TempDir and closes it when the
// test ends.
func setup(t *testing.T) *sqlite.Store {
	return open(t, filepath.Join(t.TempDir(), "dboslite.db"))
}

// open opens a store on the file at path and closes it when the test
// ends.
func open(t *testing.T, path string) *sqlite.Store {
	is := is.New(t)
	s, err := sqlite.Open(t.Context(), "sqlite:"+path)
	is.NoErr(err) // open
	t.Cleanup(func() { s.Close() })
	return s
}
