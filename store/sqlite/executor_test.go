package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store/sqlite"
)

func TestLockExecutor(t *testing.T) {
	is := is.New(t)
	url := "sqlite:" + filepath.Join(t.TempDir(), "x.sqlite")
	a, b := openURL(t, url), openURL(t, url) // two processes' stores on one file

	releaseA, ok, err := a.LockExecutor("local")
	is.NoErr(err)
	is.True(ok) // the first takes it
	_, ok, err = b.LockExecutor("local")
	is.NoErr(err)
	is.True(!ok) // the second is told it is taken
	releaseOther, ok, err := b.LockExecutor("worker-2")
	is.NoErr(err)
	is.True(ok) // another executor ID is another lock
	releaseOther()

	releaseA()
	releaseB, ok, err := b.LockExecutor("local")
	is.NoErr(err)
	is.True(ok) // free once released
	releaseB()

	mem := openURL(t, "sqlite::memory:")
	release, ok, err := mem.LockExecutor("local")
	is.NoErr(err)
	is.True(ok) // an in-memory database has one process
	release()
}

func openURL(t *testing.T, url string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
