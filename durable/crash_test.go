package durable_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

const (
	// crashWorkflows is how many workflows the helper runs: enough that
	// five kills at crashMaxDelay leave work for the final run.
	crashWorkflows = 1000
	crashSteps     = 5
	// crashKills is how many kills must interrupt work that was left.
	crashKills = 5
	// crashRounds caps the fresh starts made when a kill came too late.
	crashRounds     = 4
	crashMinDelay   = 30 * time.Millisecond
	crashMaxDelay   = 250 * time.Millisecond
	crashRunLimit   = 60 * time.Second // for any one run of the helper
	crashSeedEnvVar = "DBOSLITE_CRASH_SEED"
)

// TestCrashSIGKILL runs testdata/crashapp, kills it with SIGKILL at random
// moments, runs it to completion and checks that every workflow finished
// once, with each step recorded once and run at most once per process.
func TestCrashSIGKILL(t *testing.T) {
	is := is.New(t)
	bin := buildCrashApp(t)
	seed := crashSeed(t)
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnvVar, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	minDelay, maxDelay := crashMinDelay, crashMaxDelay
	for round := 1; round <= crashRounds; round++ {
		dir, url := t.TempDir(), newDatabaseURL(t)
		kills, ok := crashRound(t, rng, bin, dir, url, minDelay, maxDelay)
		if !ok {
			// A kill came after the work was finished: nothing is left
			// to interrupt in this database. Start again, sooner.
			t.Logf("round %d: a kill came after all work was done; starting afresh with shorter delays", round)
			minDelay, maxDelay = minDelay/2, maxDelay/2
			continue
		}
		p := startCrashApp(t, bin, dir, url)
		p.waitReady(t)
		p.waitExit(t)
		is.True(p.printed(p.done))                 // the final run completes
		is.Equal(p.cmd.ProcessState.ExitCode(), 0) // and exits 0
		p.logStderr(t, "final run")

		runs := kills + 1
		repeated := verifyCrash(t, dir, url, runs)
		t.Logf("round %d: %d kills, %d side effects repeated", round, kills, repeated)
		return
	}
	t.Fatalf("no round got %d kills in before the work was done, in %d rounds: raise crashWorkflows", crashKills, crashRounds)
}

// crashRound kills the helper crashKills times, each after a random delay
// from "ready". It reports false, and stops, if a kill found no work left.
func crashRound(t *testing.T, rng *rand.Rand, bin, dir, url string, minDelay, maxDelay time.Duration) (int, bool) {
	is := is.New(t)
	for kill := 1; kill <= crashKills; kill++ {
		delay := minDelay + time.Duration(rng.Int64N(int64(maxDelay-minDelay)+1))
		p := startCrashApp(t, bin, dir, url)
		p.waitReady(t)
		select {
		case <-time.After(delay):
			p.cmd.Process.Kill()
		case <-p.exited:
		}
		p.waitExit(t)
		if p.printed(p.done) {
			is.Equal(p.cmd.ProcessState.ExitCode(), 0) // finished before the kill
			return kill - 1, false
		}
		if code := p.cmd.ProcessState.ExitCode(); code != -1 {
			p.logStderr(t, "failed run")
			t.Fatalf("kill %d: the helper exited with code %d before it was killed", kill, code)
		}
		p.logStderr(t, fmt.Sprintf("kill %d", kill))
		finished := finishedInLog(t, dir)
		t.Logf("kill %d after %v: %d/%d workflows had run their last step", kill, delay, finished, crashWorkflows)
		if finished == crashWorkflows {
			return kill - 1, false
		}
	}
	return crashKills, true
}

// buildCrashApp builds testdata/crashapp, without cgo, into a temporary
// folder.
func buildCrashApp(t *testing.T) string { return buildHelper(t, "crashapp") }

// buildHelper builds the helper program testdata/<name>, without cgo, into
// a temporary folder.
func buildHelper(t *testing.T, name string) string {
	is := is.New(t)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin, err = exec.LookPath("go")
		is.NoErr(err) // a go command to build the helper
	}
	pkg := "../testdata/" + name
	if strings.HasPrefix(name, "../") {
		pkg = name // a program elsewhere in the module, such as an example
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(name))
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command(goBin, "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("go build:\n%s", out)
	}
	is.NoErr(err) // the helper builds
	t.Logf("built %s in %v", name, time.Since(start).Round(time.Millisecond))
	return bin
}

// crashSeed returns the seed of the kill delays: $DBOSLITE_CRASH_SEED if
// set, else a new one.
func crashSeed(t *testing.T) uint64 {
	is := is.New(t)
	if s := os.Getenv(crashSeedEnvVar); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		is.NoErr(err) // DBOSLITE_CRASH_SEED is a number
		return seed
	}
	return rand.Uint64()
}

// crashProc is one run of the helper.
type crashProc struct {
	cmd    *exec.Cmd
	out    lineWatcher
	stderr bytes.Buffer
	ready  chan struct{} // closed when the helper prints "ready"
	done   chan struct{} // closed when it prints "done"
	exited chan struct{} // closed once Wait returned
}

func startCrashApp(t *testing.T, bin, dir, url string) *crashProc {
	is := is.New(t)
	p := &crashProc{ready: make(chan struct{}), done: make(chan struct{})}
	p.out.on = map[string]chan struct{}{"ready": p.ready, "done": p.done}
	p.cmd = exec.Command(bin,
		"-db", url,
		"-log", filepath.Join(dir, "side-effects.log"),
		"-n", strconv.Itoa(crashWorkflows))
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = &p.stderr
	var err error
	p.exited, err = startProc(t, p.cmd)
	is.NoErr(err) // the helper starts
	return p
}

func (p *crashProc) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-p.ready:
	case <-p.exited:
		p.logStderr(t, "helper")
		t.Fatalf("the helper exited (code %d) before it was ready", p.cmd.ProcessState.ExitCode())
	case <-time.After(crashRunLimit):
		t.Fatalf("the helper was not ready after %v", crashRunLimit)
	}
}

func (p *crashProc) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(crashRunLimit):
		p.cmd.Process.Kill()
		<-p.exited
		p.logStderr(t, "helper")
		t.Fatalf("the helper did not exit within %v", crashRunLimit)
	}
}

// printed reports whether c is closed. The output is complete once the
// process exited.
func (p *crashProc) printed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// logStderr logs what the helper wrote to stderr, if anything; call it
// once the helper exited.
func (p *crashProc) logStderr(t *testing.T, what string) {
	t.Helper()
	if s := p.stderr.String(); s != "" {
		const limit = 4000
		if len(s) > limit {
			s = s[:limit] + "…"
		}
		t.Logf("%s: stderr:\n%s", what, s)
	}
}

// lineWatcher closes the channel named by each line written to it.
type lineWatcher struct {
	mu      sync.Mutex
	partial []byte
	on      map[string]chan struct{}
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if c, ok := w.on[line]; ok {
			delete(w.on, line)
			close(c)
		}
	}
}

// finishedInLog counts the workflows whose last step ran, by the
// side-effect log.
func finishedInLog(t *testing.T, dir string) int {
	is := is.New(t)
	data, err := os.ReadFile(filepath.Join(dir, "side-effects.log"))
	is.NoErr(err) // the side-effect log exists
	last := fmt.Sprintf(" step-%d", crashSteps)
	seen := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		if id, ok := strings.CutSuffix(strings.TrimSuffix(line, "\n"), last); ok {
			seen[id] = true
		}
	}
	return len(seen)
}

func crashStepValue(i, k int) int { return 10*i + k }

// crashWaiter reports whether workflow i waits in Recv and Sleep after its
// second step: see testdata/crashapp.
func crashWaiter(i int) bool { return i%10 == 0 }

// crashExpected is the result workflow i returns: see testdata/crashapp.
func crashExpected(i int) string {
	sum := 0
	for k := 1; k <= crashSteps; k++ {
		sum += crashStepValue(i, k)
	}
	if crashWaiter(i) {
		sum += i // the message it received
	}
	return fmt.Sprintf("wf-%d:%d", i, sum)
}

// verifyCrash checks the database and the side-effect log after the final
// run, and returns how many side effects ran more than once.
func verifyCrash(t *testing.T, dir, url string, runs int) int {
	is := is.New(t)
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	is.NoErr(err) // the helper's database opens
	defer s.Close()

	wfs, err := s.ListWorkflows(ctx, store.ListParams{})
	is.NoErr(err)
	is.Equal(len(wfs), crashWorkflows) // exactly one row per workflow
	byID := make(map[string]store.Workflow, len(wfs))
	maxAttempts := 0
	for _, wf := range wfs {
		byID[wf.ID] = wf
		maxAttempts = max(maxAttempts, wf.RecoveryAttempts)
	}
	var problems []string
	for i := range crashWorkflows {
		id := fmt.Sprintf("wf-%03d", i)
		want, err := json.Marshal(crashExpected(i))
		is.NoErr(err)
		wf, ok := byID[id]
		if got := fmt.Sprintf("%t %s %s", ok, wf.Status, wf.Output); got != fmt.Sprintf("true %s %s", store.StatusSuccess, want) {
			problems = append(problems, fmt.Sprintf("%s: recorded %q", id, got))
		}
		steps, err := s.Steps(ctx, id)
		is.NoErr(err)
		if got, want := stepSummary(steps), wantSteps(i); got != want {
			problems = append(problems, fmt.Sprintf("%s: steps %q, want %q", id, got, want))
		}
		if crashWaiter(i) {
			// Its one message was consumed: nothing is left to take.
			_, left, err := s.ConsumeMessage(ctx, store.ConsumeParams{WorkflowID: id, Topic: "go",
				Step: store.Step{WorkflowID: id, StepID: 1000, Name: "check"}})
			is.NoErr(err)
			if left {
				problems = append(problems, id+": a second message was delivered")
			}
		}
	}
	is.Equal(firstProblems(problems), nil) // every workflow succeeded with its five steps recorded
	t.Logf("most recovery attempts of a workflow: %d", maxAttempts)
	return verifySideEffects(t, dir, runs)
}

// stepSummary describes recorded steps as "1 step-1 12 <nil>; …"; a sleep's
// output, a time, is left out.
func stepSummary(steps []store.Step) string {
	var parts []string
	for _, s := range steps {
		out := s.Output
		if s.Name == "durable.sleep" {
			out = nil
		}
		parts = append(parts, fmt.Sprintf("%d %s %s %s", s.StepID, s.Name, out, s.Error))
	}
	return strings.Join(parts, "; ")
}

func wantSteps(i int) string {
	var parts []string
	n := 0
	for k := 1; k <= crashSteps; k++ {
		n++
		parts = append(parts, fmt.Sprintf("%d step-%d %d ", n, k, crashStepValue(i, k)))
		if k == 2 && crashWaiter(i) {
			parts = append(parts,
				fmt.Sprintf("%d durable.recv %d ", n+1, i), // the message
				fmt.Sprintf("%d durable.sleep  ", n+2),     // the receive's deadline
				fmt.Sprintf("%d durable.sleep  ", n+3))     // the sleep
			n += 3
		}
	}
	return strings.Join(parts, "; ")
}

// verifySideEffects checks that every step ran at least once and at most
// once per run of the helper, and that the log holds nothing else. It
// returns how many runs of a step were repeats.
func verifySideEffects(t *testing.T, dir string, runs int) int {
	is := is.New(t)
	data, err := os.ReadFile(filepath.Join(dir, "side-effects.log"))
	is.NoErr(err)                                       // the side-effect log exists
	is.True(len(data) > 0 && data[len(data)-1] == '\n') // the log holds whole lines
	counts := map[string]int{}
	for line := range strings.Lines(string(data)) {
		counts[strings.TrimSuffix(line, "\n")]++
	}
	var problems []string
	repeated := 0
	for i := range crashWorkflows {
		for k := 1; k <= crashSteps; k++ {
			key := fmt.Sprintf("wf-%03d step-%d", i, k)
			n := counts[key]
			delete(counts, key)
			if n < 1 || n > runs {
				problems = append(problems, fmt.Sprintf("%s ran %d times in %d runs", key, n, runs))
			}
			repeated += max(n-1, 0)
		}
	}
	for line, n := range counts {
		problems = append(problems, fmt.Sprintf("unexpected line %q (%d times)", line, n))
	}
	slices.Sort(problems)
	is.Equal(firstProblems(problems), nil) // each step ran at least once and at most once per run
	return repeated
}

// firstProblems keeps a failure message readable.
func firstProblems(p []string) []string {
	if len(p) > 20 {
		return append(p[:20:20], fmt.Sprintf("… and %d more", len(p)-20))
	}
	return p
}
