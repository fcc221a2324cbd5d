package durable

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dboslite/dboslite/store"
)

// System is what reaches a system database: an Engine or a Client.
// GetEvent, ReadStream, Retrieve, Enqueue and the error registrations
// take one.
type System interface {
	engine() *Engine
}

func (e *Engine) engine() *Engine { return e }

// Client acts on the workflows of a system database from a program that
// does not run them: it enqueues workflows by name, sends messages, reads
// events and streams, waits for results, lists, cancels, resumes, forks
// and deletes. It opens only the store: it never recovers, adopts or
// dequeues anything, and never creates or migrates a database.
//
// Which Engine methods need Launch: those that run workflows — Start and
// Run of a registered Workflow (Enqueue does not). Everything else works
// on an engine that was never launched, as on a Client; but a program
// that runs no workflows should use a Client, which cannot be launched by
// mistake (a launched engine adopts other processes' workflows).
type Client struct {
	e *Engine // never launched
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// SystemDatabaseURL names the application's system database, as in
	// Config. Defaults to $DBOS_SYSTEM_DATABASE_URL. A database that does
	// not exist is an error: the client creates nothing.
	SystemDatabaseURL string
	// Codec must be the application's. Defaults to JSON.
	Codec Codec
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// ReadOnly opens the database for reading only, for a program that
	// looks at a live application without disturbing it: listing and
	// reading work, and every write (Cancel, Send, Enqueue, …) fails with
	// an error matching store.ErrReadOnly. A SQLite file the user may only
	// read can be opened so, and SQLite writes nothing to it.
	ReadOnly bool
	// TracerProvider, if set, has Enqueue store the trace of its context
	// with the workflow, which then runs in that trace (see
	// Config.TracerProvider). The client itself makes no spans.
	TracerProvider trace.TracerProvider
}

// NewClient opens the system database of an application for a client.
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	c := Config{AppName: "client", SystemDatabaseURL: cfg.SystemDatabaseURL, Codec: cfg.Codec, Logger: cfg.Logger,
		TracerProvider: cfg.TracerProvider}.withDefaults()
	if cfg.SystemDatabaseURL == "" && c.SystemDatabaseURL == "sqlite:client.sqlite" {
		return nil, fmt.Errorf("%w: ClientConfig.SystemDatabaseURL is required (or $DBOS_SYSTEM_DATABASE_URL)", ErrInvalidConfig)
	}
	s, err := store.OpenWith(ctx, c.SystemDatabaseURL, store.OpenOptions{Existing: true, ReadOnly: cfg.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("durable: client: system database: %w", err)
	}
	c.Store = s
	e, err := New(c)
	if err != nil {
		s.Close()
		return nil, err
	}
	e.ownsStore = true
	return &Client{e: e}, nil
}

func (c *Client) engine() *Engine { return c.e }

// Close closes the client's connection to the system database.
func (c *Client) Close() error {
	c.e.mu.Lock()
	c.e.state = stateShutdown
	c.e.mu.Unlock()
	c.e.cancel()
	return c.e.store.Close()
}

// Send sends msg to the workflow destID under topic.
func (c *Client) Send(ctx context.Context, destID, topic string, msg any, opts ...SendOption) error {
	return c.e.Send(ctx, destID, topic, msg, opts...)
}

// Cancel cancels a workflow: see Engine.Cancel.
func (c *Client) Cancel(ctx context.Context, id string, opts ...TreeOption) error {
	return c.e.Cancel(ctx, id, opts...)
}

// Resume makes a stopped workflow run again: see Engine.Resume.
func (c *Client) Resume(ctx context.Context, id string) error { return c.e.Resume(ctx, id) }

// Fork starts a new workflow from another's recorded steps: see
// Engine.Fork.
func (c *Client) Fork(ctx context.Context, id string, fromStep int, opts ...ForkOption) (string, error) {
	return c.e.Fork(ctx, id, fromStep, opts...)
}

// Delete deletes a workflow: see Engine.Delete.
func (c *Client) Delete(ctx context.Context, id string, opts ...TreeOption) error {
	return c.e.Delete(ctx, id, opts...)
}

// ListWorkflows lists workflows: see Engine.ListWorkflows.
func (c *Client) ListWorkflows(ctx context.Context, q ListQuery) (WorkflowPage, error) {
	return c.e.ListWorkflows(ctx, q)
}

// Steps lists a workflow's recorded steps: see Engine.Steps.
func (c *Client) Steps(ctx context.Context, id string) ([]StepInfo, error) { return c.e.Steps(ctx, id) }

// QueueDepths counts the queues' active workflows: see
// Engine.QueueDepths.
func (c *Client) QueueDepths(ctx context.Context) ([]QueueDepth, error) { return c.e.QueueDepths(ctx) }

// CollectGarbage deletes finished workflows: see Engine.CollectGarbage.
func (c *Client) CollectGarbage(ctx context.Context, r Retention) (int, error) {
	return c.e.CollectGarbage(ctx, r)
}

// CancelCreatedBefore cancels old active workflows: see
// Engine.CancelCreatedBefore.
func (c *Client) CancelCreatedBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return c.e.CancelCreatedBefore(ctx, cutoff)
}

// Enqueue enqueues workflow (a name some engine of the database
// registered) on queue with input in, and returns a handle to it. It
// takes every option Start takes with WithQueue, and
// WithApplicationVersion; by default the workflow runs on an engine of
// any application version, the first to claim it. A name no engine of the
// database registered is ErrUnknownWorkflow. It needs no Launch: an
// Engine or a Client can enqueue work other processes serve.
func Enqueue[Out, In any](ctx context.Context, sys System, queue, workflow string, in In, opts ...StartOption) (*Handle[Out], error) {
	e := sys.engine()
	if queue == "" {
		return nil, fmt.Errorf("%w: Enqueue needs a queue name", ErrInvalidEnqueue)
	}
	if workflow == "" {
		return nil, fmt.Errorf("%w: Enqueue needs a workflow name", ErrInvalidName)
	}
	o := startOpts(opts)
	o.q.queue = queue
	id, err := e.enqueueByName(ctx, workflow, in, o)
	if err != nil {
		return nil, err
	}
	return &Handle[Out]{eng: e, id: id, run: e.activeRun(id)}, nil
}
