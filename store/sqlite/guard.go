package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"

	modernc "modernc.org/sqlite"
)

// SQLite may roll back a whole transaction on its own after an error
// (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM; see "Response To
// Errors Within A Transaction" at https://www.sqlite.org/lang_transaction.html).
// The connection is then in autocommit mode: the savepoints of the batch
// are gone and any further statement commits on its own. The writer must
// know when that happens, and nothing may commit but its own COMMIT.
//
// It learns both from SQLite's hooks on the writer's connection. The
// rollback hook runs whenever a transaction is rolled back, by a ROLLBACK
// or implicitly by an error, though not for a ROLLBACK TO a savepoint: a
// count that has not moved since BEGIN proves the transaction still open.
// That is exact, costs no statement and reads nothing from an error's
// text. The other ways are worse: sqlite3_get_autocommit is not in
// modernc.org/sqlite's exported API (its conn, reached through
// (*sql.Conn).Raw, offers hooks but not that), and the "no such savepoint"
// of a ROLLBACK TO is a message under the generic SQLITE_ERROR code that
// can only be had by running a statement. The writer still treats any
// failed SAVEPOINT, ROLLBACK TO or RELEASE as the end of its transaction.
//
// The commit hook, once armed, refuses every commit but the writer's own
// COMMIT, and SQLite turns a refused commit into a rollback. So a statement
// that runs after SQLite's rollback (a write function that ignores an
// error and goes on, a RELEASE of a savepoint that opened a transaction of
// its own) fails and commits nothing: a rolled-back batch leaves nothing
// behind.

// txGuard is what the hooks of the writer's connection record.
type txGuard struct {
	rollbacks  atomic.Uint64 // transactions rolled back on the writer's connection
	commits    atomic.Uint64 // commits let through, for tests
	armed      atomic.Bool   // set when the writer starts: then only its COMMIT commits
	committing atomic.Bool   // set while the writer runs its COMMIT
}

// commit is the commit hook: a non-zero result turns the commit into a
// rollback. Migrations run before the writer starts, unguarded.
func (g *txGuard) commit() int32 {
	if g.armed.Load() && !g.committing.Load() {
		return 1
	}
	g.commits.Add(1)
	return 0
}

// rollback is the rollback hook.
func (g *txGuard) rollback() { g.rollbacks.Add(1) }

// guardedConnector opens the writer's connections with the guard's hooks
// installed, so that a connection database/sql opens anew, after it
// discarded a broken one, has them too.
type guardedConnector struct {
	driver.Connector
	guard *txGuard
}

// Connect implements driver.Connector.
func (c guardedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	h, ok := conn.(modernc.HookRegisterer)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite: the driver's connection takes no commit and rollback hooks")
	}
	h.RegisterCommitHook(c.guard.commit)
	h.RegisterRollbackHook(c.guard.rollback)
	return conn, nil
}
