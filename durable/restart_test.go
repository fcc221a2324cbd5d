package durable_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// restartEnv holds the command that restarts the PostgreSQL server. The
// restart would break the tests of other packages that go test runs at
// the same time, so .ci/run runs this test in a step of its own.
const restartEnv = "DBOS_TEST_POSTGRES_RESTART"

// The database blinks: workflows pause and go on, and none ends in ERROR
// because of it.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if backend() != "postgres" {
		t.Skip("a test of PostgreSQL: it runs in the PostgreSQL run")
	}
	restart := os.Getenv(restartEnv)
	if restart == "" {
		t.Skip("set " + restartEnv + "='pg_ctlcluster 15 main restart' to restart the server under load (.ci/run does, in its own step)")
	}
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	const workflows, steps = 64, 20
	var ran atomic.Int64
	begun := make(chan struct{}) // closed once every workflow ran three steps: then the restart
	var once sync.Once
	wf := register(t, e, "steady", func(ctx context.Context, n int) (int, error) {
		sum := 0
		for i := range steps {
			v, err := durable.Step(ctx, fmt.Sprint("s", i), func(ctx context.Context) (int, error) {
				time.Sleep(20 * time.Millisecond)
				return i, nil
			})
			if err != nil {
				return 0, err
			}
			if i < 3 && ran.Add(1) == workflows*3 { // replays count again: harmless past the mark
				once.Do(func() { close(begun) })
			}
			sum += v
		}
		return sum + n, nil
	})
	launch(t, e)
	handles := make([]*durable.Handle[int], workflows)
	for i := range handles {
		h, err := wf.Start(context.Background(), i, durable.WithID(fmt.Sprint("steady-", i)))
		is.NoErr(err)
		handles[i] = h
	}
	<-begun
	t.Logf("restarting the server: %s", restart)
	out, err := exec.Command("sh", "-c", restart).CombinedOutput()
	is.NoErr(err) // the server restarts
	t.Logf("%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, h := range handles {
		got, err := h.Result(ctx)
		is.NoErr(err)                      // the blink is not an outcome
		is.Equal(got, i+steps*(steps-1)/2) // and the workflow went on to its end
	}
	s := v.open()
	list, err := s.ListWorkflows(ctx, store.ListParams{Name: "steady"})
	is.NoErr(err)
	for _, w := range list {
		is.Equal(w.Status, store.StatusSuccess) // none ended in ERROR
	}
	is.True(len(list) == workflows)
	t.Logf("database errors that sent a workflow to replay: %d", strings.Count(v.log.String(), "runs again"))
}
