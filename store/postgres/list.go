package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dboslite/dboslite/store"
)

// Listings are in the order of (insert_xid, seq): the ID of the
// transaction that inserted the row (a column set by its default,
// pg_current_xact_id(), which no update changes), then the identity that
// orders the rows of one transaction. A row's Position is that pair.
//
// A page must never pass a row that appears later, or the next page,
// which starts after it, would skip that row. Ordering by seq alone
// would: an identity value is taken when the row is inserted, and its
// transaction may commit after one that took a larger value, so a reader
// can list the larger one before the smaller exists.
//
// So a listing that may be continued (one with a Limit, or one given
// After) lists only rows whose insert_xid is below X, the xmin of its own
// statement's snapshot: pg_snapshot_xmin(pg_current_snapshot()), the
// oldest transaction ID still in progress when the snapshot was taken
// (or the next to be assigned, if none is). Then no row with a smaller
// key can appear later:
//
//   - every transaction with an ID below X had ended when the snapshot
//     was taken. If it committed, the snapshot sees all its rows; if it
//     aborted, its rows never exist. A transaction's ID is its own, so no
//     later transaction inserts a row with that insert_xid.
//   - so a row that appears later has an insert_xid of X or more: its key
//     is above every key listed, and a later page lists it, in order.
//
// The price: a transaction that has written and is still open, anywhere
// on the server (transaction IDs are the cluster's), holds back the rows
// inserted after it began until it ends. A listing that comes short while
// it holds rows back waits for them, up to heldWait; past that, a page
// may hold fewer than Limit rows, and the next listing has the rest. A transaction that only
// reads has no ID and holds nothing back. Listings that cannot be
// continued (no Limit, no After: the engine's) see every committed row.
// Descending listings are not held back either: they go from the newest
// row down, so a row that commits later below where they are was
// inserted while the pages were read, as every row above their start
// was, and those they never list.

// settled is the condition that a row's insertion has settled: see above.
const settled = `insert_xid < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)`

// position returns the Position of the row with this key.
func position(insertXID, seq int64) string {
	return strconv.FormatInt(insertXID, 10) + "." + strconv.FormatInt(seq, 10)
}

// parsePosition returns the key a Position names.
func parsePosition(p string) (insertXID, seq int64, err error) {
	x, s, ok := strings.Cut(p, ".")
	if ok {
		if insertXID, err = strconv.ParseInt(x, 10, 64); err == nil {
			if seq, err = strconv.ParseInt(s, 10, 64); err == nil {
				return insertXID, seq, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("position %q is not one of this store's", p)
}

// ListWorkflows implements store.Store.
func (s *Store) ListWorkflows(ctx context.Context, p store.ListParams) ([]store.Workflow, error) {
	q, args, err := listQuery(p)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	var rows []workflowRow
	held := strings.Contains(q, settled)
	pause := heldPauseMin
	for start := time.Now(); ; {
		var waiting bool
		err = s.retry(ctx, read, func() error {
			rows = rows[:0]
			if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
				return err
			}
			if !held || p.Limit > 0 && len(rows) == p.Limit {
				waiting = false
				return nil
			}
			return s.db.GetContext(ctx, &waiting, heldBack(q), args...)
		})
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", translate(err))
		}
		if !waiting || time.Since(start) > heldWait {
			return toStore(rows), nil
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, fmt.Errorf("list workflows: %w", ctx.Err())
		}
		pause = min(2*pause, heldPauseMax)
	}
}

// A listing that holds back rows (see above) and so comes short waits
// for the transactions that hold them back, up to heldWait: they are
// short in general, and a short page is then one that reached the end.
const (
	heldWait     = 2 * time.Second
	heldPauseMin = 2 * time.Millisecond
	heldPauseMax = 50 * time.Millisecond
)

// heldBack turns a listing that holds back unsettled rows into a query of
// whether it holds back any.
func heldBack(q string) string {
	return `SELECT EXISTS (` + strings.Replace(q, settled, "NOT ("+settled+")", 1) + `)`
}

// listQuery returns the statement of a listing and its arguments.
func listQuery(p store.ListParams) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(p.Statuses) > 0 {
		cond, err := statusCond(p.Statuses)
		if err != nil {
			return "", nil, err
		}
		where = append(where, cond)
	}
	if len(p.IDs) > 0 {
		where = append(where, "id = ANY("+arg(p.IDs)+"::text[])")
	}
	for _, f := range []struct {
		col, val string
	}{{"name", p.Name}, {"executor_id", p.ExecutorID}, {"owner", p.Owner}, {"app_version", p.ApplicationVersion}} {
		if f.val != "" {
			where = append(where, f.col+" = "+arg(f.val))
		}
	}
	// The <> '' terms let the planner use the partial indexes, which leave
	// out the rows without a parent or a queue, in a generic plan too.
	if p.ParentID != "" {
		where = append(where, "parent_id = "+arg(p.ParentID)+" AND parent_id <> ''")
	}
	if p.Queue != "" {
		where = append(where, "queue_name = "+arg(p.Queue)+" AND queue_name <> ''")
	}
	for _, f := range []struct {
		cond string
		t    int64
	}{{"created_at >= ", millis(p.CreatedAfter)}, {"created_at < ", millis(p.CreatedBefore)},
		{"updated_at >= ", millis(p.UpdatedAfter)}, {"updated_at < ", millis(p.UpdatedBefore)}} {
		if f.t != 0 {
			where = append(where, f.cond+arg(f.t))
		}
	}
	if p.IDPrefix != "" {
		// A range of the primary key, bound as arguments so that a
		// generic plan uses it too, then the exact test (no LIKE: _ and
		// % are letters here).
		where = append(where, "id >= "+arg(p.IDPrefix))
		if end, ok := prefixEnd(p.IDPrefix); ok {
			where = append(where, "id < "+arg(end))
		}
		where = append(where, "starts_with(id, "+arg(p.IDPrefix)+")")
	}
	if p.After != "" {
		x, seq, err := parsePosition(p.After)
		if err != nil {
			return "", nil, err
		}
		op := ">"
		if p.Descending {
			op = "<"
		}
		where = append(where, "(insert_xid, seq) "+op+" ("+arg(x)+"::bigint, "+arg(seq)+"::bigint)")
	}
	if !p.Descending && (p.Limit > 0 || p.After != "") {
		where = append(where, settled)
	}
	cols := workflowColumns
	if p.NoPayloads {
		cols = listColumns
	}
	q := `SELECT ` + cols + ` FROM workflows`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if p.Descending {
		q += " ORDER BY insert_xid DESC, seq DESC"
	} else {
		q += " ORDER BY insert_xid, seq"
	}
	if p.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(p.Limit)
	}
	return q, args, nil
}

// statusCond is the condition that a row has one of statuses. Statuses
// are written into the SQL, not bound: the planner uses a partial index
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
	return "status IN (" + strings.Join(lits, ", ") + ")", nil
}

// prefixEnd returns the least text above every text that starts with
// prefix, as COLLATE "C" compares them (by bytes, which for UTF-8 is by
// code point), and false if there is none. It is prefix with its last
// code point that can be raised raised by one, skipping the surrogates,
// which UTF-8 does not encode.
func prefixEnd(prefix string) (string, bool) {
	runes := []rune(prefix)
	for i := len(runes) - 1; i >= 0; i-- {
		r := runes[i] + 1
		if r == 0xD800 {
			r = 0xE000
		}
		if r <= utf8.MaxRune {
			return string(append(runes[:i], r)), true
		}
	}
	return "", false
}
