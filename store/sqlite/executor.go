package sqlite

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/dboslite/dboslite/store"
)

var _ store.ExecutorLocker = (*Store)(nil)

// LockExecutor implements store.ExecutorLocker with an advisory lock on a
// file beside the database, "<db>.executor-<hex ID>.lock". The operating
// system drops the lock when the process ends, even by SIGKILL, so a
// restart after a crash gets it at once. An in-memory database belongs to
// one process: its lock always succeeds.
func (s *Store) LockExecutor(executorID string) (func(), bool, error) {
	if s.path == "" {
		return func() {}, true, nil
	}
	path := s.path + ".executor-" + hex.EncodeToString([]byte(executorID)) + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: executor lock %q: %w", path, err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: executor lock %q: %w", path, err)
		}
		return nil, false, nil
	}
	return func() { f.Close() }, true, nil // closing drops the lock
}
