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
	}), storetest.WithReadOnly(func(t *testing.T, s store.Store) store.Store {
		return openWith(t, s.(*sqlite.Store).Path(), store.OpenOptions{ReadOnly: true})
	}), storetest.WithMissing(func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "missing", "app.db")
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

// openWith opens a store on the file at path as o says, and closes it
// when the test ends.
func openWith(t *testing.T, path string, o store.OpenOptions) *sqlite.Store {
	is := is.New(t)
	s, err := sqlite.OpenWith(t.Context(), "sqlite:"+path, o)
	is.NoErr(err) // open
	t.Cleanup(func() { s.Close() })
	return s
}
