package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the tests' own connection, to drop their schemas

	"github.com/dboslite/dboslite/internal/pgschema"
	"github.com/dboslite/dboslite/store"
	_ "github.com/dboslite/dboslite/store/sqlite"
)

// The tests run each command against a database they build through the
// store, with fixed times and IDs, so the output is the same on every
// run and on both backends: SQLite always, PostgreSQL when
// $DBOS_TEST_POSTGRES_URL names a database (a schema of its own per
// test). Under CI=true a missing PostgreSQL fails the tests.

const postgresEnv = "DBOS_TEST_POSTGRES_URL"

// t0 is when the fixture's first workflow started; now is when the
// commands run.
var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fixedAt = t0.Add(time.Minute)
)

func TestMain(m *testing.M) {
	if os.Getenv(runAsCommandEnv) != "" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
	time.Local = time.UTC // times show in UTC, whatever the machine's zone
	nowFunc = func() time.Time { return fixedAt }
	os.Exit(m.Run())
}

// backends returns the names and URL makers of the backends to test on.
func backends(t *testing.T) map[string]func(*testing.T) string {
	t.Helper()
	bs := map[string]func(*testing.T) string{"sqlite": sqliteURL}
	if os.Getenv(postgresEnv) != "" {
		bs["postgres"] = postgresURL
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required under CI: set %s", postgresEnv)
	} else {
		t.Logf("the PostgreSQL half did not run: set %s=postgres://postgres:postgres@127.0.0.1:5432/dboslite_test", postgresEnv)
	}
	return bs
}

func sqliteURL(t *testing.T) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "sys.sqlite")
}

// postgresURL returns the URL of a new schema, dropped when the test ends.
func postgresURL(t *testing.T) string {
	return pgschema.ForTest(t, os.Getenv(postgresEnv))
}

// fixture fills the new database at url with workflows of every kind:
// one that succeeded after a child, one that failed in a step, one
// running and one waiting in a queue, one cancelled, and one with a long
// input.
func fixture(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer s.Close()
	f := &filler{t: t, s: s}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	f.create("order-1001", "checkout", "", `{"order":1001,"items":3}`, at(0))
	f.step("order-1001", 1, "reserve", `"ok"`, "", "", at(5), at(120))
	f.step("order-1001", 2, "charge", `{"charged":4200}`, "", "", at(120), at(1450))
	f.create("order-1001-ship", "ship", "order-1001", `{"order":1001}`, at(1450))
	f.step("order-1001", 3, "ship", `null`, "", "order-1001-ship", at(1450), at(1460))
	f.step("order-1001-ship", 1, "label", `"LBL-9"`, "", "", at(1470), at(2900))
	f.step("order-1001-ship", 2, "pickup", `true`, "", "", at(2900), at(3190))
	f.outcome("order-1001-ship", store.StatusSuccess, `"shipped"`, "", at(3190))
	f.step("order-1001", 4, "durable.getResult", `"shipped"`, "", "order-1001-ship", at(1460), at(3200))
	f.step("order-1001", 5, "email", `"sent"`, "", "", at(3200), at(3300))
	f.outcome("order-1001", store.StatusSuccess, `{"receipt":"R-1001"}`, "", at(3310))

	f.create("order-1002", "checkout", "", `{"order":1002,"items":1}`, at(4000))
	f.step("order-1002", 1, "reserve", `"ok"`, "", "", at(4010), at(4100))
	f.step("order-1002", 2, "charge", "", "card declined: insufficient funds", "", at(4100), at(6100))
	f.outcome("order-1002", store.StatusError, "", "charge: card declined: insufficient funds", at(6110))

	f.enqueue("report-7", "report", "reports", `{"month":"2026-02"}`, at(10_000))
	f.enqueue("report-8", "report", "reports", `{"month":"2026-03"}`, at(11_000))
	if _, err := s.Claim(ctx, store.ClaimParams{Queue: "reports", Names: []string{"report"}, ExecutorID: "worker-a",
		ApplicationVersion: "v1", Max: 1, Now: at(12_000)}); err != nil {
		t.Fatalf("claim: %v", err)
	}
	f.step("report-7", 1, "gather", `{"rows":1200}`, "", "", at(12_100), at(40_000))

	f.create("import-3", "import", "", `{"file":"feb.csv"}`, at(20_000))
	f.step("import-3", 1, "parse", `{"rows":12}`, "", "", at(20_010), at(21_000))
	if _, err := s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "import-3", Now: at(25_000)}); err != nil {
		t.Fatalf("cancel: %v", err)
	}

	long := `{"text":"` + strings.Repeat("all work and no play makes a long payload ", 5) + `"}`
	f.create("echo-long", "echo", "", long, at(30_000))
	f.step("echo-long", 1, "shout", `"ALL WORK AND NO PLAY"`, "", "", at(30_001), at(30_004))
	f.outcome("echo-long", store.StatusSuccess, long, "", at(30_005))
}

// filler writes the fixture's rows, failing the test on any error.
type filler struct {
	t *testing.T
	s store.Store
}

func (f *filler) create(id, name, parent, input string, at time.Time) {
	f.t.Helper()
	_, _, err := f.s.CreateWorkflow(context.Background(), store.WorkflowCreateParams{ID: id, Name: name, ParentID: parent,
		Input: []byte(input), ExecutorID: "local", ApplicationVersion: "v1", ApplicationName: "shop", Now: at})
	if err != nil {
		f.t.Fatalf("create %s: %v", id, err)
	}
}

func (f *filler) enqueue(id, name, queue, input string, at time.Time) {
	f.t.Helper()
	_, _, err := f.s.Enqueue(context.Background(), store.EnqueueParams{Queue: queue, WorkflowCreateParams: store.WorkflowCreateParams{
		ID: id, Name: name, Input: []byte(input), ApplicationVersion: "v1", ApplicationName: "shop", Now: at}})
	if err != nil {
		f.t.Fatalf("enqueue %s: %v", id, err)
	}
}

func (f *filler) step(id string, n int, name, output, errMsg, child string, start, end time.Time) {
	f.t.Helper()
	st := store.Step{WorkflowID: id, StepID: n, Name: name, ChildID: child, StartedAt: start, CompletedAt: end}
	if errMsg != "" {
		st.Error = errRecord(errMsg)
	} else {
		st.Output = []byte(output)
	}
	if err := f.s.RecordStep(context.Background(), store.StepParams{Step: st}); err != nil {
		f.t.Fatalf("step %d of %s: %v", n, id, err)
	}
}

func (f *filler) outcome(id string, status store.Status, output, errMsg string, at time.Time) {
	f.t.Helper()
	p := store.OutcomeParams{WorkflowID: id, Status: status, Now: at}
	if errMsg != "" {
		p.Error = errRecord(errMsg)
	} else {
		p.Output = []byte(output)
	}
	if _, err := f.s.SetOutcome(context.Background(), p); err != nil {
		f.t.Fatalf("outcome of %s: %v", id, err)
	}
}

// errRecord encodes an error as the engine records it.
func errRecord(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"message": msg, "type": "*errors.errorString"})
	return b
}
