package durable_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/internal/proc"
	"github.com/dboslite/dboslite/store"
)

// The ownership tests run copies of testdata/ownerapp on one SQLite file
// and stop or kill them while they run a workflow. They are the three
// ways the old file lock per executor ID failed: a process could recover
// a workflow that another live process of its executor ran, and the work
// and queue slots of a killed process waited for a restart of its
// executor.

const (
	// ownerHeartbeat is the helpers' HeartbeatInterval. Their
	// InstanceLease is the default 15s: a killed helper is found dead by
	// its PID, within a heartbeat, not by its lease.
	ownerHeartbeat = 100 * time.Millisecond
	// ownerWait bounds any one wait for a helper or the database.
	ownerWait = 10 * time.Second
)

// TestSameExecutorThirdProcessLeavesARunningWorkflowAlone: processes A
// and B run with the same executor ID; B is inside W's step when A exits
// and C starts with that ID too. C must not take W from B, which is
// alive, and W completes once, in B.
func TestSameExecutorThirdProcessLeavesARunningWorkflowAlone(t *testing.T) {
	bin := buildOwnerApp(t)
	for _, exit := range []struct {
		name string
		stop func(*testing.T, *helperProc)
	}{
		{"A shuts down", stopHelper},
		{"A is killed", killHelper},
	} {
		t.Run(exit.name, func(t *testing.T) {
			is := is.New(t)
			o := newOwners(t, bin)
			a := o.start("-executor", "local")
			a.waitLine(t, "ready", ownerWait)
			aIn := o.instance(a)
			b := o.start("-executor", "local", "-gate", o.gate, "-start", "W")
			b.waitLine(t, "in-step W", ownerWait)
			bIn := o.instance(b)

			exit.stop(t, a)
			c := o.start("-executor", "local", "-gate", o.gate)
			c.waitLine(t, "ready", ownerWait)    // Launch adopted what it found orphaned
			waitPasses(t, o.s, o.instance(c), 3) // and three heartbeat passes went by since

			is.True(!o.live(aIn.ID)) // A's instance is dead: the passes saw A gone
			wf := o.workflow("W")
			is.Equal(wf.Status, store.StatusPending) // W still runs
			is.Equal(wf.Owner, bIn.ID)               // in B: C did not take it
			is.Equal(wf.RecoveryAttempts, 1)         // nobody recovered it
			is.Equal(o.ranWork("W"), []int{pid(b)})  // its step ran once, in B

			o.open("W")
			is.Equal(b.waitLines(t, 1, ownerWait, hasPrefix("result W ")), []string{fmt.Sprintf("result W %d", pid(b))}) // W's result, from B
			o.finished("W", b, 1)
			is.Equal(o.ranWork("W"), []int{pid(b)}) // and never again
			stopHelper(t, b)
			stopHelper(t, c)
		})
	}
}

// TestWorkflowOfAKilledProcessIsAdoptedByALiveOneOfTheSameExecutor:
// A runs W and is killed inside its step while B, of the same executor
// ID, waits for W's result. B adopts W within a few heartbeats, with no
// restart, and its wait returns.
func TestWorkflowOfAKilledProcessIsAdoptedByALiveOneOfTheSameExecutor(t *testing.T) {
	is := is.New(t)
	o := newOwners(t, buildOwnerApp(t))
	a := o.start("-executor", "local", "-gate", o.gate, "-start", "W")
	a.waitLine(t, "in-step W", ownerWait)
	b := o.start("-executor", "local", "-await", "W")
	b.waitLine(t, "ready", ownerWait)
	is.Equal(o.workflow("W").Owner, o.instance(a).ID) // B left W to A, alive

	killed := time.Now()
	killHelper(t, a)
	result := b.waitLines(t, 1, ownerWait, hasPrefix("result W "))
	took := time.Since(killed)
	t.Logf("W completed in B %v after A was killed (heartbeat %v)", took.Round(time.Millisecond), ownerHeartbeat)
	is.Equal(result, []string{fmt.Sprintf("result W %d", pid(b))}) // B's wait returns the output of the run B made
	is.True(took < 10*ownerHeartbeat)                              // adopted within a few heartbeats, not after the lease
	o.finished("W", b, 2)                                          // one run in A, one recovery in B
	is.Equal(o.ranWork("W"), []int{pid(a), pid(b)})                // the step ran twice: in A, killed, and in B
	stopHelper(t, b)
}

// TestQueueSlotsOfAKilledProcessAreFreed: process "a" holds every slot of
// a queue (global concurrency 3) when it is killed. Process "b", already
// running, frees them without a restart of "a", runs those workflows and
// the rest of the queue, and the limit holds throughout.
func TestQueueSlotsOfAKilledProcessAreFreed(t *testing.T) {
	const n, limit = 12, 3
	is := is.New(t)
	o := newOwners(t, buildOwnerApp(t))
	for i := range n {
		_, _, err := o.s.Enqueue(t.Context(), store.EnqueueParams{Queue: "shared", WorkflowCreateParams: store.WorkflowCreateParams{
			ID: fmt.Sprintf("wf-%02d", i), Name: "owned", Input: []byte(fmt.Sprint(i)), ApplicationVersion: "v1",
		}})
		is.NoErr(err) // enqueue
	}
	a := o.start("-executor", "a", "-queue", fmt.Sprint(limit), "-gate", o.gate)
	var held []string
	for _, l := range a.waitLines(t, limit, ownerWait, hasPrefix("in-step ")) {
		held = append(held, strings.TrimPrefix(l, "in-step "))
	}
	b := o.start("-executor", "b", "-queue", fmt.Sprint(limit))
	b.waitLine(t, "ready", ownerWait)

	killHelper(t, a)
	start := time.Now()
	waitFor(t, "the queue to drain", func() bool {
		left, err := o.s.ListWorkflows(t.Context(), store.ListParams{
			Statuses: []store.Status{store.StatusEnqueued, store.StatusPending}, Limit: 1})
		is.NoErr(err)
		return len(left) == 0
	})
	t.Logf("b ran the %d workflows in %v after a was killed holding %v", n, time.Since(start).Round(time.Millisecond), held)

	var iv intervals
	for i := range n {
		id := fmt.Sprintf("wf-%02d", i)
		ran := []int{pid(b)}
		if slices.Contains(held, id) {
			ran = []int{pid(a), pid(b)}
		}
		o.finished(id, b, len(ran))             // one claim per process that ran it
		is.Equal(o.ranWork(id), ran)            // its step ran once per process that ran it
		iv.spans = append(iv.spans, o.span(id)) // from its first start to its end
	}
	most := iv.maxOverlap("")
	t.Logf("at most %d workflows ran at once", most)
	is.True(most <= limit) // the global limit held, before and after the kill
	stopHelper(t, b)
}

// owners is the scene of an ownership test: one SQLite file shared by
// copies of testdata/ownerapp, their side-effect log and their gate
// folder.
type owners struct {
	t                   *testing.T
	bin, url, log, gate string
	s                   store.Store
}

// buildOwnerApp builds testdata/ownerapp.
func buildOwnerApp(t *testing.T) string {
	if proc.Self().Host == "" {
		t.Skip("this system gives no host key: a killed helper would be found dead only by its lease")
	}
	return buildHelper(t, "ownerapp")
}

func newOwners(t *testing.T, bin string) *owners {
	dir := t.TempDir()
	o := &owners{t: t, bin: bin, url: newDatabaseURL(t), log: filepath.Join(dir, "side-effects.log"),
		gate: filepath.Join(dir, "gate")}
	if err := os.Mkdir(o.gate, 0o755); err != nil {
		t.Fatal(err)
	}
	o.s = (&env{t: t, url: o.url}).open()
	return o
}

// start starts a copy of ownerapp on the scene's database.
func (o *owners) start(args ...string) *helperProc {
	return startHelper(o.t, o.bin, append([]string{"-db", o.url, "-log", o.log, "-heartbeat", ownerHeartbeat.String()}, args...)...)
}

// open lets the gated work step of workflow id end.
func (o *owners) open(id string) {
	if err := os.WriteFile(filepath.Join(o.gate, id), nil, 0o644); err != nil {
		o.t.Fatal(err)
	}
}

// stopHelper stops a helper with SIGTERM and checks that it shut down
// cleanly.
func stopHelper(t *testing.T, p *helperProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	p.waitLine(t, "done", ownerWait)
	p.wait(t)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the helper exited with code %d; stderr:\n%s", code, p.stderr.String())
	}
}

// killHelper kills a helper with SIGKILL and waits until it is gone.
func killHelper(t *testing.T, p *helperProc) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	p.wait(t)
}

func pid(p *helperProc) int { return p.cmd.Process.Pid }

func hasPrefix(prefix string) func(string) bool {
	return func(l string) bool { return strings.HasPrefix(l, prefix) }
}

// instance returns the live instance of a helper that printed "ready".
func (o *owners) instance(p *helperProc) store.Instance {
	o.t.Helper()
	ins, err := o.s.Instances(o.t.Context())
	if err != nil {
		o.t.Fatalf("instances: %v", err)
	}
	for _, in := range ins {
		if in.PID == pid(p) {
			return in
		}
	}
	o.t.Fatalf("no live instance has the helper's PID %d", pid(p))
	return store.Instance{}
}

// live reports whether an instance is registered and not declared dead.
func (o *owners) live(id string) bool {
	o.t.Helper()
	ins, err := o.s.Instances(o.t.Context())
	if err != nil {
		o.t.Fatalf("instances: %v", err)
	}
	return slices.ContainsFunc(ins, func(in store.Instance) bool { return in.ID == id })
}

// waitPasses waits until instance in renewed its heartbeat n+1 times: a
// heartbeat is followed by a pass of adoption, so n passes went by.
func waitPasses(t *testing.T, s store.Store, in store.Instance, n int) {
	t.Helper()
	last, beats := in.HeartbeatAt, 0
	waitFor(t, fmt.Sprintf("%d heartbeats of instance %s", n+1, in.ID), func() bool {
		ins, err := s.Instances(t.Context())
		if err != nil {
			t.Fatalf("instances: %v", err)
		}
		for _, now := range ins {
			if now.ID == in.ID && now.HeartbeatAt.After(last) {
				last = now.HeartbeatAt
				beats++
			}
		}
		return beats > n
	})
}

// waitFor waits until cond holds. What it waits for shows only in the
// database (it happens in another process, or in an engine's background
// loop), so it looks every 5ms, for at most ownerWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ownerWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", ownerWait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (o *owners) workflow(id string) store.Workflow {
	o.t.Helper()
	wf, err := o.s.GetWorkflow(o.t.Context(), id)
	if err != nil {
		o.t.Fatalf("workflow %s: %v", id, err)
	}
	return wf
}

// finished checks that workflow id completed in helper p, after attempts
// runs, with its three steps recorded once and the work step's output
// that of p.
func (o *owners) finished(id string, p *helperProc, attempts int) {
	o.t.Helper()
	is := is.New(o.t)
	wf := o.workflow(id)
	want := strconv.Itoa(pid(p))
	got := fmt.Sprintf("%s %s %d", wf.Status, wf.Output, wf.RecoveryAttempts)
	is.Equal(got, fmt.Sprintf("%s %s %d", store.StatusSuccess, want, attempts)) // status, output (the PID that ran the work step), runs
	steps, err := o.s.Steps(o.t.Context(), id)
	is.NoErr(err)
	var names []string
	for _, st := range steps {
		names = append(names, st.Name)
	}
	is.Equal(strings.Join(names, ","), "start,work,end") // every step recorded, once
	is.Equal(string(steps[1].Output), want)              // the work step as p ran it
}

// span returns the recorded start and end of workflow id's run: from the
// start of its first run (a killed one, maybe) to its end.
func (o *owners) span(id string) span {
	o.t.Helper()
	steps, err := o.s.Steps(o.t.Context(), id)
	if err != nil || len(steps) != 3 {
		o.t.Fatalf("steps of %s: %d, %v", id, len(steps), err)
	}
	var from, to int64
	if json.Unmarshal(steps[0].Output, &from) != nil || json.Unmarshal(steps[2].Output, &to) != nil {
		o.t.Fatalf("%s: start %s, end %s are not times", id, steps[0].Output, steps[2].Output)
	}
	return span{start: time.Unix(0, from), end: time.Unix(0, to)}
}

// ranWork returns the PIDs of the processes whose work step of workflow
// id really ran, in order, from the side-effect log.
func (o *owners) ranWork(id string) []int {
	o.t.Helper()
	data, err := os.ReadFile(o.log)
	if err != nil {
		o.t.Fatalf("side-effect log: %v", err)
	}
	var pids []int
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line) // "<id> work <executor> <pid>"
		if len(f) != 4 || f[1] != "work" {
			o.t.Fatalf("side-effect log: bad line %q", line)
		}
		if f[0] == id {
			n, err := strconv.Atoi(f[3])
			if err != nil {
				o.t.Fatalf("side-effect log: bad line %q", line)
			}
			pids = append(pids, n)
		}
	}
	return pids
}
