package durable_test

import (
	"bytes"
	"encoding/json"
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
	procsCount     = 4
	procsGlobal    = 4
	procsRunLimit  = 60 * time.Second
)

// TestQueueManyProcesses runs four copies of testdata/queueapp on one
// SQLite file serving one queue of 1,000 workflows, and checks from the
// records that every workflow ran exactly once and that the queue's global
// concurrency held across the processes.
func TestQueueManyProcesses(t *testing.T) {
	is := is.New(t)
	bin := buildHelper(t, "queueapp")
	dir := t.TempDir()
	db := filepath.Join(dir, "queue.sqlite")
	logPath := filepath.Join(dir, "side-effects.log")

	s := (&env{t: t, url: "sqlite:" + db}).open()
	for i := range procsWorkflows {
		_, _, err := s.Enqueue(t.Context(), store.EnqueueParams{Queue: "shared", WorkflowCreateParams: store.WorkflowCreateParams{
			ID: fmt.Sprintf("wf-%04d", i), Name: "queued", Input: []byte(fmt.Sprint(i)), ApplicationVersion: "v1",
		}})
		is.NoErr(err) // enqueue
	}

	start := time.Now()
	procs := make([]*helperProc, procsCount)
	for i := range procs {
		procs[i] = startHelper(t, bin, "-db", db, "-log", logPath, "-executor", fmt.Sprintf("worker-%d", i),
			"-global", fmt.Sprint(procsGlobal))
	}
	for i, p := range procs {
		p.wait(t)
		is.Equal(p.cmd.ProcessState.ExitCode(), 0) // each helper exits 0
		if s := p.stderr.String(); s != "" {
			t.Logf("helper %d stderr:\n%s", i, s)
		}
	}
	t.Logf("%d processes drained %d workflows in %v", procsCount, procsWorkflows, time.Since(start).Round(time.Millisecond))

	byExecutor := verifyProcsRecords(t, s)
	verifyProcsLog(t, logPath)
	t.Logf("workflows run per executor: %v", byExecutor)
	is.True(len(byExecutor) >= 2) // the processes shared the queue
}

// verifyProcsRecords checks every workflow's row and steps and the
// overlap of their start-to-end spans; it returns how many each executor
// ran.
func verifyProcsRecords(t *testing.T, s store.Store) map[string]int {
	is := is.New(t)
	wfs, err := s.ListWorkflows(t.Context(), store.ListParams{})
	is.NoErr(err)
	is.Equal(len(wfs), procsWorkflows) // none lost, none added
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	var problems []string
	byExecutor := map[string]int{}
	for _, wf := range wfs {
		byExecutor[wf.ExecutorID]++
		if wf.Status != store.StatusSuccess || wf.RecoveryAttempts != 1 {
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
			continue
		}
		var from, to int64
		is.NoErr(json.Unmarshal(steps[0].Output, &from)) // the start time
		is.NoErr(json.Unmarshal(steps[2].Output, &to))   // the end time
		edges = append(edges, edge{from, 1}, edge{to, -1})
	}
	is.Equal(firstProblems(problems), nil) // every workflow succeeded once with its three steps
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
	return byExecutor
}

// verifyProcsLog checks that each workflow's work ran exactly once.
func verifyProcsLog(t *testing.T, logPath string) {
	is := is.New(t)
	data, err := os.ReadFile(logPath)
	is.NoErr(err) // the side-effect log exists
	counts := map[string]int{}
	for line := range strings.Lines(string(data)) {
		id, _, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		counts[id]++
	}
	var problems []string
	for i := range procsWorkflows {
		id := fmt.Sprintf("wf-%04d", i)
		if counts[id] != 1 {
			problems = append(problems, fmt.Sprintf("%s ran %d times", id, counts[id]))
		}
		delete(counts, id)
	}
	for id, n := range counts {
		problems = append(problems, fmt.Sprintf("unexpected %q (%d times)", id, n))
	}
	slices.Sort(problems)
	is.Equal(firstProblems(problems), nil) // every workflow's work ran exactly once
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
