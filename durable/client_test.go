package durable_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/queue"
	"github.com/dboslite/dboslite/store"
)

// clientMain is the other program of TestClientFromAnotherProcess: it
// works on the test's engine through a Client only, and prints what it
// saw, one line each.
func clientMain(ctx context.Context, url string) error {
	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: url})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h, err := durable.Enqueue[int](ctx, c, "work", "double", 21, durable.WithID("doubled"))
	if err != nil {
		return err
	}
	n, err := h.Result(ctx)
	fmt.Println("result", n, err)
	progress, err := durable.GetEvent[string](ctx, c, "talker", "progress", 10*time.Second)
	fmt.Println("event", progress, err)
	if err := c.Send(ctx, "talker", "go", "from the client"); err != nil {
		return err
	}
	var values []string
	for v, err := range durable.ReadStream[string](ctx, c, "talker", "lines", 0) {
		if err != nil {
			return err
		}
		values = append(values, v)
	}
	fmt.Println("stream", strings.Join(values, ","))
	page, err := c.ListWorkflows(ctx, durable.ListQuery{Name: "double"})
	if err != nil {
		return err
	}
	fmt.Println("listed", len(page.Workflows), page.Workflows[0].Status)
	_, err = durable.Enqueue[int](ctx, c, "work", "dubble", 1)
	fmt.Println("typo", errors.Is(err, durable.ErrUnknownWorkflow))
	return nil
}

func TestClientFromAnotherProcess(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	register(t, e, "double", func(ctx context.Context, n int) (int, error) { return 2 * n, nil })
	talker := register(t, e, "talker", func(ctx context.Context, _ int) (string, error) {
		if err := durable.SetEvent(ctx, "progress", "half way"); err != nil {
			return "", err
		}
		msg, err := durable.Recv[string](ctx, "go", time.Minute)
		if err != nil {
			return "", err
		}
		for _, s := range []string{"got", msg} {
			if err := durable.WriteStream(ctx, "lines", s); err != nil {
				return "", err
			}
		}
		return msg, durable.CloseStream(ctx, "lines")
	})
	registerQueue(t, e, queue.Queue{Name: "work"})
	launch(t, e)
	_, err := talker.Start(ctx, 0, durable.WithID("talker"))
	is.NoErr(err)

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=client\x1f"+v.url)
	out, err := cmd.CombinedOutput()
	is.NoErr(err) // the client program ran
	got := string(out)
	t.Logf("client:\n%s", got)
	for _, want := range []string{
		"result 42 <nil>",            // it enqueued by name, and waited for the result
		"event half way <nil>",       // it read an event
		"stream got,from the client", // its message arrived, and it read the stream to its close
		"listed 1 SUCCESS",           // it listed
		"typo true",                  // a name no engine registered is refused
	} {
		is.True(strings.Contains(got, want)) // the client saw it
	}
	wf := v.workflow("doubled")
	ins, err := v.open().Instances(ctx)
	is.NoErr(err)
	is.Equal(len(ins), 1)         // only the engine registered itself: the client never runs work
	is.Equal(wf.Owner, ins[0].ID) // the engine ran what the client enqueued
}

func TestAClientCreatesNoDatabase(t *testing.T) {
	onlySQLite(t)
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "nothing-here.sqlite")
	_, err := durable.NewClient(context.Background(), durable.ClientConfig{SystemDatabaseURL: "sqlite:" + path})
	is.True(errors.Is(err, store.ErrNotFound))   // a missing database is an error
	is.True(strings.Contains(err.Error(), path)) // that names it
	_, statErr := os.Stat(path)
	is.True(errors.Is(statErr, os.ErrNotExist)) // and no file was made
}

// The two programs of examples/worker and examples/client work together
// as the README shows.
func TestTheClientExample(t *testing.T) {
	is := is.New(t)
	url := newDatabaseURL(t)
	worker := buildHelper(t, "../examples/worker")
	client := buildHelper(t, "../examples/client")
	w := startHelper(t, worker, "-db", url)
	w.waitLine(t, `ready: serving the queue "reports"; Ctrl-C to stop`, 20*time.Second)
	out, err := exec.Command(client, "-db", url, "mon", "tue").CombinedOutput()
	is.NoErr(err) // the client ran
	got := string(out)
	is.True(strings.Contains(got, "report for MON: 30 rows")) // each report, from the worker
	is.True(strings.Contains(got, "report for TUE: 30 rows"))
	is.NoErr(w.cmd.Process.Signal(syscall.SIGTERM))
	w.wait(t)
	is.Equal(w.cmd.ProcessState.ExitCode(), 0) // the worker stops cleanly
}

// A read-only client lists, and refuses every write with store.ErrReadOnly
// without changing anything recorded.
func TestAReadOnlyClientOnlyReads(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	echo := register(t, e, "echo", func(ctx context.Context, s string) (string, error) { return s, nil })
	launch(t, e)
	ctx := context.Background()
	_, err := echo.Run(ctx, "hi", durable.WithID("ro-echo"))
	is.NoErr(err)

	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: v.url, ReadOnly: true})
	is.NoErr(err)
	defer c.Close()
	page, err := c.ListWorkflows(ctx, durable.ListQuery{IDs: []string{"ro-echo"}})
	is.NoErr(err)
	is.Equal(len(page.Workflows), 1) // a read-only client reads
	err = c.Delete(ctx, "ro-echo")
	is.True(errors.Is(err, store.ErrReadOnly)) // and cannot delete
	_, err = c.Fork(ctx, "ro-echo", 1)
	is.True(errors.Is(err, store.ErrReadOnly))                  // nor fork
	is.Equal(v.workflow("ro-echo").Status, store.StatusSuccess) // the workflow is still there, untouched
}
