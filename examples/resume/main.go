// Command resume shows durable execution to a newcomer: a five-step
// onboarding workflow whose steps are checkpointed in a SQLite file.
// Interrupt it (Ctrl-C, or kill -9) and run it again: it resumes at the
// first step that was not recorded, and the recorded steps do not run again.
//
//	go run ./examples/resume          # run, interrupt, run again
//	go run ./examples/resume -fresh   # start a new workflow
//
// The same program runs on PostgreSQL when DBOS_SYSTEM_DATABASE_URL names
// one (postgres://…): nothing else changes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
	_ "github.com/dboslite/dboslite/store/postgres" // so a postgres:// URL works too
)

// fixedID is the workflow ID every run uses unless -fresh is given: the ID
// is what lets a second run find and resume the first run's workflow.
const fixedID = "example-onboarding"

// stepTime is how long each step pretends to work (a variable: its test
// makes the steps instant).
var stepTime = time.Second

// steps are the onboarding steps, in order: what the step does, and what it
// reports once done.
var steps = []struct{ doing, done string }{
	{"validating email address", "email address validated"},
	{"creating account", "account created"},
	{"provisioning workspace", "workspace provisioned"},
	{"sending welcome email", "welcome email sent"},
	{"scheduling follow-up call", "follow-up call scheduled"},
}

// StepReport is what one step returns, and so what is recorded for it.
type StepReport struct {
	Done string `json:"done"`
	PID  int    `json:"pid"` // the process in which the step really ran
}

// Report is the workflow's result.
type Report struct {
	User  string       `json:"user"`
	Steps []StepReport `json:"steps"`
}

func main() {
	dbPath := flag.String("db", "dboslite-example.sqlite", "SQLite system database `file`, unless $DBOS_SYSTEM_DATABASE_URL names one")
	fresh := flag.Bool("fresh", false, "start a new workflow (ID based on the time) instead of resuming "+fixedID)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, stop, *dbPath, *fresh)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, stop context.CancelFunc, dbPath string, fresh bool) (int, error) {
	url := os.Getenv("DBOS_SYSTEM_DATABASE_URL")
	where := store.RedactURL(url)
	if url == "" {
		abs, err := filepath.Abs(dbPath)
		if err != nil {
			return 1, err
		}
		url, where = "sqlite:"+abs, abs
	}
	fmt.Println("system database:", where)
	fmt.Printf("this process: pid %d\n", os.Getpid())
	eng, err := durable.New(durable.Config{
		AppName:           "resume-example",
		SystemDatabaseURL: url,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return 1, err
	}
	id := fixedID
	if fresh {
		id = fixedID + "-" + time.Now().Format("20060102-150405")
	}
	onboarding, err := durable.Register(eng, "onboarding", onboard(id))
	if err != nil {
		return 1, err
	}

	// Look before Launch: Launch resumes interrupted workflows at once.
	wf, err := describe(ctx, eng.Store(), id, where)
	if err != nil {
		return 1, err
	}
	others, err := otherPending(ctx, eng, id)
	if err != nil {
		return 1, err
	}

	if err := eng.Launch(ctx); err != nil {
		return 1, err
	}
	handles := []*durable.Handle[Report]{}
	if wf.Status != store.StatusSuccess {
		h, err := onboarding.Start(ctx, "ada@example.com", durable.WithID(id))
		if err != nil {
			return shutdown(ctx, stop, eng, err)
		}
		handles = append(handles, h)
	}
	for _, o := range others {
		h, err := onboarding.Retrieve(ctx, o)
		if err != nil {
			return shutdown(ctx, stop, eng, err)
		}
		handles = append(handles, h)
	}
	for _, h := range handles {
		rep, err := h.Result(ctx)
		if err != nil {
			return shutdown(ctx, stop, eng, err)
		}
		fmt.Printf("workflow %s finished:\n", h.ID())
		printReport(rep)
	}
	if len(handles) > 0 && handles[0].ID() == id {
		fmt.Printf("run it again: it finds %s finished and does not run it twice\n", id)
	}
	return shutdown(ctx, stop, eng, nil)
}

// describe prints what the system database already holds under id and
// returns its row (a zero row if there is none).
func describe(ctx context.Context, s store.Store, id, where string) (store.Workflow, error) {
	wf, err := s.GetWorkflow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Printf("workflow %s: new, starting it (interrupt with Ctrl-C, then run again)\n", id)
		return wf, nil
	}
	if err != nil {
		return wf, err
	}
	recorded, err := s.Steps(ctx, id)
	if err != nil {
		return wf, err
	}
	fmt.Printf("workflow %s: %s, %d of %d steps recorded\n", id, wf.Status, len(recorded), len(steps))
	switch wf.Status {
	case store.StatusPending:
		fmt.Println("resuming: recorded steps will not run again")
	case store.StatusSuccess:
		var rep Report
		if err := json.Unmarshal(wf.Output, &rep); err != nil {
			return wf, fmt.Errorf("read result of %s: %w", id, err)
		}
		fmt.Println("it already finished; its recorded result:")
		printReport(rep)
		fmt.Printf("to start over: run with -fresh (a new workflow ID), or delete %s\n", where)
	default:
		fmt.Println("it will not run again; to start over run with -fresh or delete", where)
	}
	return wf, nil
}

// otherPending lists interrupted onboarding workflows other than id (left
// by an earlier -fresh run): Launch resumes them too, so we wait for them.
func otherPending(ctx context.Context, eng *durable.Engine, id string) ([]string, error) {
	pending, err := eng.Store().ListWorkflows(ctx, store.ListParams{
		Statuses:           []store.Status{store.StatusPending},
		Name:               "onboarding",
		ExecutorID:         eng.ExecutorID(),
		ApplicationVersion: eng.ApplicationVersion(),
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, wf := range pending {
		if wf.ID != id {
			fmt.Printf("also resuming interrupted workflow %s\n", wf.ID)
			ids = append(ids, wf.ID)
		}
	}
	return ids, nil
}

// onboard returns the workflow function. Each step prints when it really
// runs; a step whose result was recorded by an earlier run returns that
// result without running, and the workflow says so.
func onboard(mainID string) func(ctx context.Context, user string) (Report, error) {
	return func(ctx context.Context, user string) (Report, error) {
		prefix := ""
		if id := durable.WorkflowID(ctx); id != mainID {
			prefix = "[" + id + "] "
		}
		rep := Report{User: user}
		for i, s := range steps {
			label := fmt.Sprintf("%sstep %d/%d", prefix, i+1, len(steps))
			ran := false
			out, err := durable.Step(ctx, s.doing, func(ctx context.Context) (StepReport, error) {
				ran = true
				fmt.Printf("%s: %s…\n", label, s.doing)
				if err := work(ctx, stepTime); err != nil {
					fmt.Printf("%s: interrupted, not recorded: it will run again\n", label)
					return StepReport{}, err
				}
				return StepReport{Done: s.done, PID: os.Getpid()}, nil
			})
			if err != nil {
				return rep, err
			}
			if !ran {
				fmt.Printf("%s: %s (recorded by pid %d, not run again)\n", label, out.Done, out.PID)
			}
			rep.Steps = append(rep.Steps, out)
		}
		return rep, nil
	}
}

// work stands for a step's real work: it takes d, or less if ctx ends.
func work(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func printReport(rep Report) {
	pids := map[int]int{}
	for i, s := range rep.Steps {
		fmt.Printf("  %d. %-26s (ran in pid %d)\n", i+1, s.Done, s.PID)
		pids[s.PID]++
	}
	fmt.Printf("  total: %d/%d steps done for %s, each recorded once, across %d process(es)\n",
		len(rep.Steps), len(steps), rep.User, len(pids))
}

// shutdown stops the engine gracefully. If ctx was cancelled by a signal,
// the running workflow stays PENDING and the next run resumes it.
func shutdown(ctx context.Context, stop context.CancelFunc, eng *durable.Engine, err error) (int, error) {
	interrupted := ctx.Err() != nil
	stop() // a second Ctrl-C now kills the process at once
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := eng.Shutdown(sctx); serr != nil {
		return 1, errors.Join(err, serr)
	}
	if interrupted {
		fmt.Println("interrupted: run again to resume")
		return 130, nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}
