package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dboslite/dboslite/store"
)

// Listings are in rowid order, which is insertion order, and a row's
// Position is its rowid. One writer at a time assigns rowids and commits,
// so every row with a smaller rowid than a listed one is committed
// already: a listing paged by rowid never passes a row that appears
// later. Migration 0006 keeps rowids from being reused after a delete.

// ListWorkflows implements store.Store.
func (s *Store) ListWorkflows(ctx context.Context, p store.ListParams) ([]store.Workflow, error) {
	q, args, err := listQuery(p)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	var rows []workflowRow
	if err := s.reader.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list workflows: %w", s.readErr(err))
	}
	out := make([]store.Workflow, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}

// listQuery returns the statement of a listing and its arguments.
func listQuery(p store.ListParams) (string, []any, error) {
	var where []string
	var args []any
	add := func(cond string, vals ...any) {
		where = append(where, cond)
		args = append(args, vals...)
	}
	if len(p.Statuses) > 0 {
		cond, err := statusCond(p.Statuses)
		if err != nil {
			return "", nil, err
		}
		add(cond)
	}
	if len(p.IDs) > 0 {
		add("id IN (SELECT value FROM json_each(?))", jsonList(p.IDs))
	}
	for _, f := range []struct {
		col, val string
	}{{"name", p.Name}, {"executor_id", p.ExecutorID}, {"owner", p.Owner}, {"app_version", p.ApplicationVersion}} {
		if f.val != "" {
			add(f.col+" = ?", f.val)
		}
	}
	// The != '' terms let SQLite use the partial indexes, which leave out
	// the rows without a parent or a queue: it cannot tell that a bound
	// value is not ''.
	if p.ParentID != "" {
		add("parent_id = ? AND parent_id != ''", p.ParentID)
	}
	if p.Queue != "" {
		add("queue_name = ? AND queue_name != ''", p.Queue)
	}
	for _, f := range []struct {
		cond string
		t    int64
	}{{"created_at >= ?", millis(p.CreatedAfter)}, {"created_at < ?", millis(p.CreatedBefore)},
		{"updated_at >= ?", millis(p.UpdatedAfter)}, {"updated_at < ?", millis(p.UpdatedBefore)}} {
		if f.t != 0 {
			add(f.cond, f.t)
		}
	}
	if p.IDPrefix != "" {
		// A range of the primary key, then the exact test, compared as
		// bytes: on TEXT, substr counts characters, not the bytes len
		// counts.
		add("id >= ?", p.IDPrefix)
		if end, ok := prefixEnd(p.IDPrefix); ok {
			add("id < ?", end)
		}
		add("substr(CAST(id AS BLOB), 1, ?) = CAST(? AS BLOB)", len(p.IDPrefix), p.IDPrefix)
	}
	if p.After != "" {
		after, err := strconv.ParseInt(p.After, 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("position %q is not one of this store's", p.After)
		}
		if p.Descending {
			add("rowid < ?", after)
		} else {
			add("rowid > ?", after)
		}
	}
	cols := workflowColumns
	if p.NoPayloads {
		cols = listColumns
	}
	q := `SELECT ` + cols + ` FROM workflows`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY rowid"
	if p.Descending {
		q += " DESC"
	}
	if p.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(p.Limit)
	}
	return q, args, nil
}

// statusCond is the condition that a row has one of statuses. Statuses
// are written into the SQL, not bound: SQLite uses a partial index
// (workflows_owner, workflows_cancelled) only when the query names its
// status literally.
func statusCond(statuses []store.Status) (string, error) {
	lits := make([]string, len(statuses))
	for i, st := range statuses {
		if !st.Known() {
			return "", fmt.Errorf("unknown status %q", st)
		}
		lits[i] = "'" + string(st) + "'"
	}
	if len(lits) == 1 {
		return "status = " + lits[0], nil // IN ('X') does not imply a partial index's status = 'X'
	}
	return "status IN (" + strings.Join(lits, ", ") + ")", nil
}

// prefixEnd returns the least string above every string that starts with
// prefix, comparing bytes, and false if there is none (prefix is all
// 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
