package postgres

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// The statements of group commit (see group.go): each writes many calls
// of one kind at once, on each call's own conditions, and says which it
// wrote. Each takes its arguments as arrays, one per column, unnested
// into rows: one statement text whatever their number. Each takes its
// rows in the order of their keys, so that two batches lock the rows
// they share in one order.

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
	s.outcomes = &group[store.OutcomeParams, outcome]{s: s, ops: ops[store.OutcomeParams, outcome]{
		one: s.setOutcome,
		many: func(ctx context.Context, ps []store.OutcomeParams) ([]bool, []outcome, error) {
			return setOutcomes(ctx, s.db, ps)
		},
		refused: func(ctx context.Context, p store.OutcomeParams) (outcome, error) {
			return outcome{}, s.retry(ctx, read, func() error { return s.notSet(ctx, p) })
		},
		key: func(p store.OutcomeParams) string { return p.WorkflowID },
	}}
	s.creates = &group[store.WorkflowCreateParams, creation]{s: s, ops: ops[store.WorkflowCreateParams, creation]{
		one: s.createWorkflow,
		many: func(ctx context.Context, ps []store.WorkflowCreateParams) ([]bool, []creation, error) {
			return createWorkflows(ctx, s.db, ps)
		},
		refused: func(ctx context.Context, p store.WorkflowCreateParams) (creation, error) {
			var c creation
			err := s.retry(ctx, read, func() error {
				var err error
				c.row, err = s.notCreated(ctx, p)
				return err
			})
			return c, err
		},
		key: func(p store.WorkflowCreateParams) string { return p.ID },
	}}
}

// order returns the indexes of n items sorted by cmp: the order in which
// a statement takes their rows.
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
//
// Each row finds its workflow in a LATERAL subquery, which the planner
// keeps apart (it locks rows) and makes an index lookup by key however
// small the table: joined plainly, the plan that pgx's prepared statement
// caches while the table is small hashes the whole table on every batch
// once it has grown, until the next ANALYZE.
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
				WITH ORDINALITY AS r (workflow_id, step_id, name, output, error, child_id, started_at, completed_at, owner, ord)) AS r,
			LATERAL (SELECT w.id FROM workflows w
				WHERE w.id = r.workflow_id AND w.status <> 'CANCELLED'
					AND (r.owner = '' OR w.owner = r.owner AND EXISTS (SELECT 1 FROM instances WHERE id = r.owner AND NOT dead))
				FOR SHARE) AS w
		ORDER BY r.ord
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

// setOutcomes sets outcomes, of distinct workflows, in one statement, each
// on the conditions of setOutcome: its workflow must be PENDING and, with
// an owner, that live instance's. It returns which it set, with their
// workflows' queues. The statement is planned at each run (see planned).
func setOutcomes(ctx context.Context, q sqlx.QueryerContext, ps []store.OutcomeParams) ([]bool, []outcome, error) {
	n := len(ps)
	idx := order(n, func(i, j int) int { return cmp.Compare(ps[i].WorkflowID, ps[j].WorkflowID) })
	var (
		ids, statuses, owners = make([]string, n), make([]string, n), make([]string, n)
		outputs, errs         = make([][]byte, n), make([][]byte, n)
		nows                  = make([]*int64, n)
	)
	for k, i := range idx {
		p := ps[i]
		ids[k], statuses[k], owners[k], outputs[k], errs[k], nows[k] = p.WorkflowID, string(p.Status), p.Owner, p.Output, p.Error, millisOrNil(p.Now)
	}
	var rows []struct {
		ID    string `db:"id"`
		Queue string `db:"queue_name"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `UPDATE workflows w
		SET status = r.status, output = r.output, error = r.error, completed_at = r.t, updated_at = r.t
		FROM (SELECT r.*, coalesce(r.now, `+dbNow+`) AS t
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::bigint[], $6::text[])
				AS r (id, status, output, error, now, owner)) AS r
		WHERE w.id = r.id AND w.status = 'PENDING'
			AND (r.owner = '' OR w.owner = r.owner AND EXISTS (SELECT 1 FROM instances WHERE id = r.owner AND NOT dead))
		RETURNING w.id, w.queue_name`,
		planned, ids, statuses, outputs, errs, nows, owners)
	if err != nil {
		return nil, nil, err
	}
	at := make(map[string]int, n)
	for i, p := range ps {
		at[p.WorkflowID] = i
	}
	wrote, res := make([]bool, n), make([]outcome, n)
	for _, r := range rows {
		i := at[r.ID]
		wrote[i], res[i] = true, outcome{updated: true, queue: r.Queue}
	}
	return wrote, res, nil
}

// createWorkflows inserts workflows, of distinct IDs, in one statement,
// each on the conditions of createWorkflow: its ID must be free and its
// owner, if any, a live instance, whose row it locks FOR KEY SHARE (see
// liveSQL). It returns which it created, with their rows.
func createWorkflows(ctx context.Context, q sqlx.QueryerContext, ps []store.WorkflowCreateParams) ([]bool, []creation, error) {
	n := len(ps)
	idx := order(n, func(i, j int) int { return cmp.Compare(ps[i].ID, ps[j].ID) })
	var (
		ids, names, execs, owners, versions, apps, parents = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		traces    = make([]string, n)
		inputs    = make([][]byte, n)
		deadlines = make([]int64, n)
		nows      = make([]*int64, n)
	)
	for k, i := range idx {
		p := ps[i]
		ids[k], names[k], execs[k], owners[k], versions[k], apps[k], parents[k] = p.ID, p.Name, p.ExecutorID, p.Owner,
			p.ApplicationVersion, p.ApplicationName, p.ParentID
		inputs[k], deadlines[k], nows[k], traces[k] = p.Input, millis(p.Deadline), millisOrNil(p.Now), p.TraceContext
	}
	var rows []workflowRow
	err := sqlx.SelectContext(ctx, q, &rows, `INSERT INTO workflows (id, name, status, input, executor_id, owner, app_version, app_name,
			parent_id, recovery_attempts, deadline_at, created_at, updated_at, trace_context)
		SELECT r.id, r.name, 'PENDING', r.input, r.executor_id, r.owner, r.app_version, r.app_name, r.parent_id, 1, r.deadline_at, r.t, r.t,
			nullif(r.trace_context, '')
		FROM (SELECT r.*, coalesce(r.now, `+dbNow+`) AS t
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[],
					$11::text[])
				WITH ORDINALITY AS r (id, name, input, executor_id, owner, app_version, app_name, parent_id, deadline_at, now, trace_context, ord)) AS r
		WHERE r.owner = '' OR EXISTS (SELECT 1 FROM instances WHERE id = r.owner AND NOT dead FOR KEY SHARE)
		ORDER BY r.ord
		ON CONFLICT (id) DO NOTHING
		RETURNING `+workflowColumns,
		ids, names, inputs, execs, owners, versions, apps, parents, deadlines, nows, traces)
	if err != nil {
		return nil, nil, err
	}
	at := make(map[string]int, n)
	for i, p := range ps {
		at[p.ID] = i
	}
	wrote, res := make([]bool, n), make([]creation, n)
	for _, r := range rows {
		i := at[r.ID]
		wrote[i], res[i] = true, creation{row: r, created: true}
	}
	return wrote, res, nil
}

// planned, passed as a statement's first argument, has pgx run it as an
// unnamed statement, which the server plans at each run, for its
// arguments and the table as it is then. A prepared statement's cached
// plan can be made while the table is small (a hash join over all of it,
// say) and is kept until the next ANALYZE, minutes later: meanwhile, each
// run reads the whole table. The price is planning each time, paid once
// per batch.
var planned = pgx.QueryExecModeCacheDescribe
