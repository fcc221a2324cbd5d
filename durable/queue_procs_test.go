package durable_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

const (
	procsWorkflows = 1000
	procsGlobal    = 4
	procsRunLimit  = 60 * time.Second
)

// TestQueueManyProcesses runs copies of testdata/queueapp on one system
// database serving one queue of 1,000 workflows with a global limit, and
// checks from the records and the side-effect log that every workflow
// completed once with all its steps, and that the limit held across the
// processes. In the second case one process is killed with SIGKILL
// midway: the others adopt its workflows and free its slots without a
// restart, and only the workflows it was running ran twice.
func TestQueueManyProcesses(t *testing.T) {
	for _, c := range []struct {
		name  string
		procs int
		kill  bool
	}{{"four processes", 4, false}, {"three processes, one killed midway", 3, true}} {
		t.Run(c.name, func(t *testing.T) { queueManyProcesses(t, c.procs, c.kill) })
	}
}

func queueManyProcesses(t *testing.T, count int, kill bool) {
	is := is.New(t)
	bin := buildHelper(t, "queueapp")
	dir := t.TempDir()
	db := newDatabaseURL(t)
	logPath := filepath.Join(dir, "side-effects.log")

	s := (&env{t: t, url: db}).open()
	for i := range procsWorkflows {
		_, _, err := s.Enqueue(t.Context(), store.EnqueueParams{Queue: "shared", WorkflowCreateParams: store.WorkflowCreateParams{
			ID: fmt.Sprintf("wf-%04d", i), Name: "queued", Input: []byte(fmt.Sprint(i)), ApplicationVersion: "v1",
		}})
		is.NoErr(err) // enqueue
	}

	start := time.Now()
	procs := make([]*helperProc, count)
	for i := range procs {
		procs[i] = startHelper(t, bin, "-db", db, "-log", logPath, "-executor", fmt.Sprintf("worker-%d", i),
			"-global", fmt.Sprint(procsGlobal))
	}
	var killedAt int64
	if kill {
		waitLogLines(t, logPath, procsWorkflows) // about half the work begun and ended
		killedAt = time.Now().UnixNano()
		is.NoErr(procs[0].cmd.Process.Kill())
		<-procs[0].exited
	}
	for i, p := range procs {
		if kill && i == 0 {
			continue
		}
		p.wait(t)
		is.Equal(p.cmd.ProcessState.ExitCode(), 0) // each helper exits 0
		if s := p.stderr.String(); s != "" {
			t.Logf("helper %d stderr:\n%s", i, s)
		}
	}
	t.Logf("%d processes drained %d workflows in %v", count, procsWorkflows, time.Since(start).Round(time.Millisecond))

	byExecutor, twice := verifyProcsRecords(t, s)
	verifyProcsLog(t, logPath, twice, killedAt)
	t.Logf("workflows run per executor: %v; run again after the kill: %d", byExecutor, len(twice))
	is.True(len(byExecutor) >= 2) // the processes shared the queue
	if kill {
		is.True(len(twice) <= procsGlobal) // only what the killed process held ran again
	}
}

// waitLogLines waits until the side-effect log has n lines. Nothing
// signals another process's writes, so it looks every millisecond.
func waitLogLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(procsRunLimit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && bytes.Count(b, []byte("\n")) >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the side-effect log did not reach %d lines", n)
}

// verifyProcsRecords checks every workflow's row and steps; it returns
// how many each executor finished and which workflows were claimed twice
// (those a killed process held).
func verifyProcsRecords(t *testing.T, s store.Store) (map[string]int, map[string]bool) {
	is := is.New(t)
	wfs, err := s.ListWorkflows(t.Context(), store.ListParams{})
	is.NoErr(err)
	is.Equal(len(wfs), procsWorkflows) // none lost, none added
	var problems []string
	byExecutor := map[string]int{}
	twice := map[string]bool{}
	for _, wf := range wfs {
		byExecutor[wf.ExecutorID]++
		if wf.RecoveryAttempts == 2 {
			twice[wf.ID] = true
		}
		if wf.Status != store.StatusSuccess || wf.RecoveryAttempts > 2 {
			problems = append(problems, fmt.Sprintf("%s: %s after %d claims", wf.ID, wf.Status, wf.RecoveryAttempts))
			continue
		}
		steps, err := s.Steps(t.Context(), wf.ID)
		is.NoErr(err)
		var names []string
		for _, st := range steps {
			names = append(names, st.Name)
		}
		if strings.Join(names, ",") != "start,work,end" {
			problems = append(problems, fmt.Sprintf("%s: steps %v", wf.ID, names))
		}
	}
	is.Equal(firstProblems(problems), nil) // every workflow succeeded with its three steps, claimed at most twice
	return byExecutor, twice
}

// verifyProcsLog checks from the side-effect log that each workflow's
// work ran once, or twice if it was claimed twice, and that at most
// procsGlobal works ran at once: each run spans its begin and end lines,
// and a run the kill (at killedAt) cut short ends there.
func verifyProcsLog(t *testing.T, logPath string, twice map[string]bool, killedAt int64) {
	is := is.New(t)
	data, err := os.ReadFile(logPath)
	is.NoErr(err) // the side-effect log exists
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	counts := map[string]int{}
	open := map[string]int64{} // "<ID> <executor>" of a run begun and not ended
	for line := range strings.Lines(string(data)) {
		var id, executor, what string
		var at int64
		_, err := fmt.Sscan(line, &id, &executor, &what, &at)
		is.NoErr(err) // a well-formed line
		key := id + " " + executor
		switch what {
		case "begin":
			counts[id]++
			open[key] = at
			edges = append(edges, edge{at, 1})
		case "end":
			delete(open, key)
			edges = append(edges, edge{at, -1})
		}
	}
	for key := range open {
		is.True(killedAt != 0 && strings.HasSuffix(key, " worker-0")) // only the killed process left runs unfinished
		edges = append(edges, edge{killedAt, -1})
	}
	var problems []string
	for i := range procsWorkflows {
		id := fmt.Sprintf("wf-%04d", i)
		want := 1
		if twice[id] {
			want = 2
		}
		if counts[id] < 1 || counts[id] > want {
			problems = append(problems, fmt.Sprintf("%s ran %d times, claimed %d", id, counts[id], want))
		}
		delete(counts, id)
	}
	for id, n := range counts {
		problems = append(problems, fmt.Sprintf("unexpected %q (%d times)", id, n))
	}
	slices.Sort(problems)
	is.Equal(firstProblems(problems), nil) // every workflow's work ran once, twice only if a killed process held it
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at == edges[j].at {
			return edges[i].delta < edges[j].delta
		}
		return edges[i].at < edges[j].at
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	t.Logf("at most %d workflows ran at once across the processes", most)
	is.True(most <= procsGlobal) // the global limit held across processes
}

// helperProc is one run of a helper program. Its output may be read while
// it runs.
type helperProc struct {
	cmd    *exec.Cmd
	stdout outputLines
	stderr syncBuffer
	exited chan struct{}
}

func startHelper(t *testing.T, bin string, args ...string) *helperProc {
	is := is.New(t)
	p := &helperProc{}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	var err error
	p.exited, err = startProc(t, p.cmd)
	is.NoErr(err) // the helper starts
	return p
}

// startProc starts cmd and returns a channel closed once it has exited.
// The process is killed at the end of the test if it still runs.
func startProc(t *testing.T, cmd *exec.Cmd) (chan struct{}, error) {
	exited := make(chan struct{})
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() // no helper outlives the test
		<-exited
	})
	return exited, nil
}

// wait waits for the helper to exit, killing it after procsRunLimit.
func (p *helperProc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(procsRunLimit):
		p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("the helper did not exit within %v; stderr:\n%s", procsRunLimit, p.stderr.String())
	}
}

// outputLines keeps what a helper prints, line by line, and tells those
// waiting for a line when one comes.
type outputLines struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	grew    chan struct{} // closed at the next line, if anyone waits
}

func (o *outputLines) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, b...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		o.lines = append(o.lines, string(o.partial[:i]))
		o.partial = o.partial[i+1:]
		if o.grew != nil {
			close(o.grew)
			o.grew = nil
		}
	}
}

// matching returns the lines so far that match, and a channel closed at
// the next line.
func (o *outputLines) matching(match func(string) bool) ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.grew == nil {
		o.grew = make(chan struct{})
	}
	var got []string
	for _, l := range o.lines {
		if match(l) {
			got = append(got, l)
		}
	}
	return got, o.grew
}

func (o *outputLines) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, l := range o.lines {
		b.WriteString(l + "\n")
	}
	b.Write(o.partial)
	return b.String()
}

// waitLines waits until the helper printed n lines that match, and returns
// them. It fails the test if the helper exits first, or if within passes.
func (p *helperProc) waitLines(t *testing.T, n int, within time.Duration, match func(string) bool) []string {
	t.Helper()
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for {
		got, grew := p.stdout.matching(match)
		if len(got) >= n {
			return got[:n]
		}
		select {
		case <-grew:
		case <-p.exited:
			if got, _ = p.stdout.matching(match); len(got) >= n { // its output is complete once it exited
				return got[:n]
			}
			t.Fatalf("the helper exited (code %d) after %d of %d lines it should print; stdout:\n%s\nstderr:\n%s",
				p.cmd.ProcessState.ExitCode(), len(got), n, p.stdout.String(), p.stderr.String())
		case <-timeout.C:
			t.Fatalf("the helper printed %d of %d lines it should within %v; stdout:\n%s\nstderr:\n%s",
				len(got), n, within, p.stdout.String(), p.stderr.String())
		}
	}
}

// waitLine waits until the helper printed line.
func (p *helperProc) waitLine(t *testing.T, line string, within time.Duration) {
	t.Helper()
	p.waitLines(t, 1, within, func(l string) bool { return l == line })
}
