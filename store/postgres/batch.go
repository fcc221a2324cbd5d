package postgres

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// The statements of group commit (see group.go): each writes many calls
// of one kind at once, on each call's own conditions, and says which it
// wrote. Each takes its arguments as arrays, one per column, unnested
// into rows: one statement whatever their number, so its plan is cached.

// none is the result of a write whose caller learns only its error.
type none = struct{}

// makeGroups makes the store's groups.
func (s *Store) makeGroups() {
	s.steps = &group[store.StepParams, none]{s: s, ops: ops[store.StepParams, none]{
		one: func(ctx context.Context, p store.StepParams) (none, error) {
			return none{}, s.retry(ctx, idempotent, func() error { return recordStep(ctx, s.db, p.Owner, p.Step) })
		},
		many: func(ctx context.Context, ps []store.StepParams) ([]bool, []none, error) {
			wrote, err := recordSteps(ctx, s.db, ps)
			return wrote, make([]none, len(ps)), err
		},
		refused: func(ctx context.Context, p store.StepParams) (none, error) {
			return none{}, s.retry(ctx, read, func() error { return refused(ctx, s.db, p.Owner, p.Step) })
		},
		key: func(p store.StepParams) string { return strconv.Itoa(p.Step.StepID) + "/" + p.Step.WorkflowID },
	}}
}

// order returns the indexes of n items sorted by cmp: the order in which a
// statement takes their rows, so that two statements lock the rows they
// share in one order.
func order(n int, cmp func(i, j int) int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, cmp)
	return idx
}

// millisOrNil is nowArg for an array: nil, which the statement turns into
// the database's clock, for a zero time.
func millisOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// recordSteps inserts steps, of distinct keys, in one statement, each on
// the conditions of recordStep: its workflow must exist, must not be
// CANCELLED and, with an owner, must be that live instance's; and it is
// locked FOR SHARE, as recordStep does and for the same reason, so that a
// step never lands after an adoption. It returns which steps it inserted.
func recordSteps(ctx context.Context, q sqlx.QueryerContext, ps []store.StepParams) ([]bool, error) {
	n := len(ps)
	idx := order(n, func(i, j int) int {
		return cmp.Or(cmp.Compare(ps[i].Step.WorkflowID, ps[j].Step.WorkflowID), cmp.Compare(ps[i].Step.StepID, ps[j].Step.StepID))
	})
	var (
		wfIDs, names, children, owners = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		stepIDs                        = make([]int, n)
		outputs, errs                  = make([][]byte, n), make([][]byte, n)
		started, completed             = make([]*int64, n), make([]*int64, n)
	)
	for k, i := range idx {
		st := ps[i].Step
		wfIDs[k], stepIDs[k], names[k], children[k], owners[k] = st.WorkflowID, st.StepID, st.Name, st.ChildID, ps[i].Owner
		outputs[k], errs[k] = st.Output, st.Error
		started[k], completed[k] = millisOrNil(st.StartedAt), millisOrNil(st.CompletedAt)
	}
	var rows []struct {
		WorkflowID string `db:"workflow_id"`
		StepID     int    `db:"step_id"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `INSERT INTO steps (workflow_id, step_id, name, output, error, child_id, started_at, completed_at)
		SELECT w.id, r.step_id, r.name, r.output, r.error, r.child_id, coalesce(r.started_at, r.t), r.t
		FROM (SELECT r.*, coalesce(r.completed_at, `+dbNow+`) AS t
			FROM unnest($1::text[], $2::integer[], $3::text[], $4::bytea[], $5::bytea[], $6::text[], $7::bigint[], $8::bigint[], $9::text[])
				WITH ORDINALITY AS r (workflow_id, step_id, name, output, error, child_id, started_at, completed_at, owner, ord)) AS r
		JOIN workflows w ON w.id = r.workflow_id
		WHERE w.status <> 'CANCELLED'
			AND (r.owner = '' OR w.owner = r.owner AND EXISTS (SELECT 1 FROM instances WHERE id = r.owner AND NOT dead))
		ORDER BY r.ord
		FOR SHARE OF w
		ON CONFLICT (workflow_id, step_id) DO NOTHING
		RETURNING workflow_id, step_id`,
		wfIDs, stepIDs, names, outputs, errs, children, started, completed, owners)
	if err != nil {
		return nil, err
	}
	type key struct {
		wf   string
		step int
	}
	at := make(map[key]int, n)
	for i, p := range ps {
		at[key{p.Step.WorkflowID, p.Step.StepID}] = i
	}
	wrote := make([]bool, n)
	for _, r := range rows {
		wrote[at[key{r.WorkflowID, r.StepID}]] = true
	}
	return wrote, nil
}
