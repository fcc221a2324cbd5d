package sqlite

import (
	"database/sql"

	"github.com/jmoiron/sqlx"
)

// maxStmts bounds the writer's statement cache.
const maxStmts = 64

// Parsing SQL costs more than running the small statements of the hot
// path, so the writer keeps them prepared on its connection. A statement
// run in a transaction that is not prepared yet runs unprepared and is
// prepared once the transaction has ended, when the connection is free.

// txer is what the helpers of a write need from its transaction: a
// *sqlx.Tx or a *wtx.
type txer interface {
	sqlx.Queryer
	sqlx.Execer
	Get(dest any, query string, args ...any) error
	Select(dest any, query string, args ...any) error
}

// wtx is a write transaction that runs statements the writer has prepared
// as such, and notes the others for preparing.
type wtx struct {
	*sqlx.Tx
	w   *writer
	cur *write // the write running now
}

// notify adds keys to wake once the running write commits: keys a write
// learns as it runs, such as the queue of the workflow it finished.
func (t *wtx) notify(keys ...string) { t.cur.learned = append(t.cur.learned, keys...) }

// stmt returns query as a statement of this transaction, or nil if it is
// not prepared yet.
func (t *wtx) stmt(query string) *sqlx.Stmt {
	if st, ok := t.w.stmts[query]; ok {
		return t.Tx.Stmtx(st)
	}
	if len(t.w.stmts)+len(t.w.unprepared) < maxStmts {
		t.w.unprepared[query] = struct{}{}
	}
	return nil
}

// Exec runs query, prepared if it can be.
func (t *wtx) Exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.Exec(args...)
	}
	return t.Tx.Exec(query, args...)
}

// Get runs query into dest, prepared if it can be.
func (t *wtx) Get(dest any, query string, args ...any) error {
	if st := t.stmt(query); st != nil {
		return st.Get(dest, args...)
	}
	return t.Tx.Get(dest, query, args...)
}

// Select runs query into dest, prepared if it can be.
func (t *wtx) Select(dest any, query string, args ...any) error {
	if st := t.stmt(query); st != nil {
		return st.Select(dest, args...)
	}
	return t.Tx.Select(dest, query, args...)
}

// QueryRowx runs query, prepared if it can be; sqlx.Get uses it.
func (t *wtx) QueryRowx(query string, args ...any) *sqlx.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRowx(args...)
	}
	return t.Tx.QueryRowx(query, args...)
}

// prepare prepares the statements noted during the last transaction. It
// runs between transactions, on the writer's goroutine; a statement that
// fails to prepare simply stays unprepared.
func (w *writer) prepare() {
	for q := range w.unprepared {
		delete(w.unprepared, q)
		if st, err := w.db.Preparex(q); err == nil {
			w.stmts[q] = st
		}
	}
}

// closeStmts closes the prepared statements.
func (w *writer) closeStmts() {
	for q, st := range w.stmts {
		st.Close()
		delete(w.stmts, q)
	}
}
