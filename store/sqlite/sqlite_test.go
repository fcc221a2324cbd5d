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
	})
}

// setup opens a store on a new file in t.TempDir and closes it when the
// test ends.
func setup(t *testing.T) *sqlite.Store {
	is := is.New(t)
	s, err := sqlite.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "dboslite.db"))
	is.NoErr(err) // open
	t.Cleanup(func() { s.Close() })
	return s
}
