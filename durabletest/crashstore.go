package durabletest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dboslite/dboslite/store"
)

// errCrash is what a crashed store answers: the process is gone.
var errCrash = errors.New("durabletest: simulated crash: the process is gone")

// crashStore is the system database as one process sees it. It counts
// the steps of workflow target that the process offers for recording
// and, if at is positive, dies at the write that records step at, or at
// target's outcome if that step does not come: that write and every
// later one is refused, as if the process had been killed just before
// it. What was written stays. A process that dies that way does nothing
// more, so reads are refused too, except StopInstance, which stands for
// the next process finding this one gone, and Close.
type crashStore struct {
	store.Store
	target string
	at     int

	down    atomic.Bool
	crashed chan struct{} // closed when the store dies
	once    sync.Once

	mu      sync.Mutex
	runs    map[int]StepRuns // by step ID
	pastEnd bool             // died at the outcome: no step at
}

func newCrashStore(s store.Store, target string, at int) *crashStore {
	return &crashStore{Store: s, target: target, at: at, crashed: make(chan struct{}), runs: map[int]StepRuns{}}
}

// die kills the store.
func (c *crashStore) die() {
	c.down.Store(true)
	c.once.Do(func() { close(c.crashed) })
}

// gone returns errCrash once the store is dead.
func (c *crashStore) gone() error {
	if c.down.Load() {
		return errCrash
	}
	return nil
}

// step is called before a write that records s, if s is not nil: it
// counts s if count is set and reports whether the write may go on.
func (c *crashStore) step(s *store.Step, count bool) error {
	if err := c.gone(); err != nil {
		return err
	}
	if s == nil || s.WorkflowID != c.target {
		return nil
	}
	c.mu.Lock()
	if count {
		r := c.runs[s.StepID]
		if r.Runs == 0 {
			r = StepRuns{ID: s.StepID, Name: s.Name}
		}
		r.Runs++
		c.runs[s.StepID] = r
	}
	c.mu.Unlock()
	if c.at > 0 && s.StepID == c.at {
		c.die()
		return errCrash
	}
	return nil
}

// counted returns the counts, by step ID.
func (c *crashStore) counted() map[int]StepRuns {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[int]StepRuns, len(c.runs))
	for id, r := range c.runs {
		m[id] = r
	}
	return m
}

func (c *crashStore) diedPastEnd() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pastEnd
}

func (c *crashStore) RecordStep(ctx context.Context, p store.StepParams) error {
	if err := c.step(&p.Step, true); err != nil {
		return err
	}
	return c.Store.RecordStep(ctx, p)
}

func (c *crashStore) Send(ctx context.Context, p store.SendParams) error {
	if err := c.step(p.Step, true); err != nil {
		return err
	}
	return c.Store.Send(ctx, p)
}

func (c *crashStore) ConsumeMessage(ctx context.Context, p store.ConsumeParams) ([]byte, bool, error) {
	if err := c.step(&p.Step, false); err != nil {
		return nil, false, err
	}
	b, ok, err := c.Store.ConsumeMessage(ctx, p)
	if ok && err == nil {
		c.step(&p.Step, true) // a message was taken: the step ran
	}
	return b, ok, err
}

func (c *crashStore) SetEvent(ctx context.Context, p store.EventParams) error {
	if err := c.step(p.Step, true); err != nil {
		return err
	}
	return c.Store.SetEvent(ctx, p)
}

func (c *crashStore) WriteStream(ctx context.Context, p store.StreamWrite) error {
	if err := c.step(p.Step, true); err != nil {
		return err
	}
	return c.Store.WriteStream(ctx, p)
}

func (c *crashStore) SetOutcome(ctx context.Context, p store.OutcomeParams) (bool, error) {
	if err := c.gone(); err != nil {
		return false, err
	}
	if c.at > 0 && p.WorkflowID == c.target {
		c.mu.Lock()
		c.pastEnd = true
		c.mu.Unlock()
		c.die()
		return false, errCrash
	}
	return c.Store.SetOutcome(ctx, p)
}

// The other methods only refuse once the store is dead.

func (c *crashStore) CreateWorkflow(ctx context.Context, p store.WorkflowCreateParams) (store.Workflow, bool, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, false, err
	}
	return c.Store.CreateWorkflow(ctx, p)
}

func (c *crashStore) GetWorkflow(ctx context.Context, id string) (store.Workflow, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, err
	}
	return c.Store.GetWorkflow(ctx, id)
}

func (c *crashStore) ListWorkflows(ctx context.Context, p store.ListParams) ([]store.Workflow, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.ListWorkflows(ctx, p)
}

func (c *crashStore) Steps(ctx context.Context, id string) ([]store.Step, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.Steps(ctx, id)
}

func (c *crashStore) RecoverWorkflow(ctx context.Context, p store.RecoverParams) (store.Workflow, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, err
	}
	return c.Store.RecoverWorkflow(ctx, p)
}

func (c *crashStore) CancelWorkflow(ctx context.Context, p store.CancelParams) (store.Workflow, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, err
	}
	return c.Store.CancelWorkflow(ctx, p)
}

func (c *crashStore) GetEvent(ctx context.Context, id, key string) ([]byte, bool, error) {
	if err := c.gone(); err != nil {
		return nil, false, err
	}
	return c.Store.GetEvent(ctx, id, key)
}

func (c *crashStore) ReadStream(ctx context.Context, id, key string, from int) ([]store.StreamEntry, bool, error) {
	if err := c.gone(); err != nil {
		return nil, false, err
	}
	return c.Store.ReadStream(ctx, id, key, from)
}

func (c *crashStore) Enqueue(ctx context.Context, p store.EnqueueParams) (store.Workflow, bool, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, false, err
	}
	return c.Store.Enqueue(ctx, p)
}

func (c *crashStore) Claim(ctx context.Context, p store.ClaimParams) ([]store.Workflow, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.Claim(ctx, p)
}

func (c *crashStore) Requeue(ctx context.Context, p store.RequeueParams) (store.Workflow, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, err
	}
	return c.Store.Requeue(ctx, p)
}

func (c *crashStore) QueueDepths(ctx context.Context) ([]store.QueueDepth, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.QueueDepths(ctx)
}

func (c *crashStore) ResumeWorkflow(ctx context.Context, p store.ResumeParams) (store.Workflow, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, err
	}
	return c.Store.ResumeWorkflow(ctx, p)
}

func (c *crashStore) ForkWorkflow(ctx context.Context, p store.ForkParams) (store.Workflow, error) {
	if err := c.gone(); err != nil {
		return store.Workflow{}, err
	}
	return c.Store.ForkWorkflow(ctx, p)
}

func (c *crashStore) DeleteWorkflows(ctx context.Context, p store.DeleteParams) (int, error) {
	if err := c.gone(); err != nil {
		return 0, err
	}
	return c.Store.DeleteWorkflows(ctx, p)
}

func (c *crashStore) CollectGarbage(ctx context.Context, p store.GCParams) (int, error) {
	if err := c.gone(); err != nil {
		return 0, err
	}
	return c.Store.CollectGarbage(ctx, p)
}

func (c *crashStore) RegisterInstance(ctx context.Context, p store.InstanceParams) (store.Instance, error) {
	if err := c.gone(); err != nil {
		return store.Instance{}, err
	}
	return c.Store.RegisterInstance(ctx, p)
}

func (c *crashStore) KnownWorkflow(ctx context.Context, name string) (bool, error) {
	if err := c.gone(); err != nil {
		return false, err
	}
	return c.Store.KnownWorkflow(ctx, name)
}

func (c *crashStore) Heartbeat(ctx context.Context, id string) error {
	if err := c.gone(); err != nil {
		return err
	}
	return c.Store.Heartbeat(ctx, id)
}

func (c *crashStore) Instances(ctx context.Context) ([]store.Instance, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.Instances(ctx)
}

func (c *crashStore) ExpireInstances(ctx context.Context, lease time.Duration) ([]string, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.ExpireInstances(ctx, lease)
}

func (c *crashStore) Orphans(ctx context.Context, p store.OrphanParams) ([]store.Workflow, error) {
	if err := c.gone(); err != nil {
		return nil, err
	}
	return c.Store.Orphans(ctx, p)
}

// withWatch returns c as the engine should see it: a store.Watcher, and
// a store.Rechecker, if the store it wraps is one, so that waits wake up
// as they would on that store.
func (c *crashStore) withWatch() store.Store {
	w, ok := c.Store.(store.Watcher)
	if !ok {
		return c
	}
	if r, ok := c.Store.(store.Rechecker); ok {
		return recheckingStore{watchingStore{c, w}, r}
	}
	return watchingStore{c, w}
}

// isDead reports whether the store died.
func (c *crashStore) isDead() bool { return c.down.Load() }

type watchingStore struct {
	*crashStore
	w store.Watcher
}

func (s watchingStore) Watch(ctx context.Context, p store.WatchParams) (<-chan struct{}, func()) {
	return s.w.Watch(ctx, p)
}

func (s watchingStore) FeedLost() bool { return s.w.FeedLost() }

type recheckingStore struct {
	watchingStore
	r store.Rechecker
}

func (s recheckingStore) RecheckEvery() time.Duration { return s.r.RecheckEvery() }
