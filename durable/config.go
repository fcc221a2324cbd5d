package durable

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/dboslite/dboslite/store"
)

// DefaultApplicationVersion is the application version of an engine whose
// Config and environment name none.
const DefaultApplicationVersion = "v1"

// DefaultMaxRecoveryAttempts is how many times a workflow is recovered
// after its first run before it is set to MAX_RECOVERY_ATTEMPTS_EXCEEDED.
const DefaultMaxRecoveryAttempts = 100

// Config configures an Engine. Only AppName is required.
type Config struct {
	// AppName names the application. Required.
	AppName string

	// SystemDatabaseURL names the system database, in the forms DBOS
	// accepts: "sqlite:app.db" (relative to the working directory),
	// "sqlite:/var/app.db", "sqlite::memory:", SQLAlchemy's
	// "sqlite:///app.db" (relative) and "sqlite:////var/app.db"
	// (absolute), "postgres://…" or "postgresql://…", or a key=value
	// connection string ("host=… dbname=…"). A bare file path is refused:
	// write "sqlite:" before it. Postgres needs the blank import of
	// store/postgres. Defaults to $DBOS_SYSTEM_DATABASE_URL, else
	// "sqlite:<AppName>.sqlite" in the working directory.
	SystemDatabaseURL string

	// ExecutorID labels the workflows this engine runs, as DBOS's
	// executor ID does. It does not decide who recovers what: every
	// launched engine is a registered instance, and live instances adopt
	// the work of dead ones whatever their executor IDs (see Launch).
	// Defaults to $DBOS__VMID, else "local".
	ExecutorID string

	// ApplicationVersion tags every workflow this engine starts; it
	// adopts and dequeues only workflows of this version (or of none). Defaults to
	// $DBOS__APPVERSION, else "v1". Unlike DBOS it is never a hash of the
	// binary, so a rebuild does not silently stop recovery: change it on
	// purpose when a deploy changes workflow code in ways recorded
	// workflows could not replay.
	ApplicationVersion string

	// MaxRecoveryAttempts is how many times a workflow is recovered after
	// its first run before it is set to MAX_RECOVERY_ATTEMPTS_EXCEEDED,
	// for workflows registered without WithMaxRecoveryAttempts. 0 means
	// the default, 100; negative means unlimited.
	MaxRecoveryAttempts int

	// HeartbeatInterval is how often the engine renews its instance's
	// heartbeat and looks for work of dead instances to adopt. Defaults
	// to 1s.
	HeartbeatInterval time.Duration

	// InstanceLease is how long an instance counts as alive after its
	// last heartbeat; then live engines adopt its workflows. An instance
	// on the same host whose process is gone is dead at once. Defaults to
	// 15s; it must be at least twice HeartbeatInterval.
	InstanceLease time.Duration

	// SuspendSleepsOver is the length past which a Sleep suspends its
	// workflow instead of holding a goroutine. Defaults to 5s; negative
	// never suspends.
	SuspendSleepsOver time.Duration

	// RetainFor, if positive, makes the engine delete, every
	// RetentionInterval from Launch on, the finished workflows that
	// completed longer than RetainFor ago (see CollectGarbage).
	RetainFor time.Duration
	// RetainNewest, if positive, makes the engine keep only that many
	// finished workflows, the most recently created, in the same pass.
	RetainNewest int
	// RetentionInterval is how often the engine applies RetainFor and
	// RetainNewest. Defaults to a minute.
	RetentionInterval time.Duration

	// BackfillTicks is how many of the ticks each schedule missed while
	// no engine of the database ran that Launch starts late, the latest
	// ones. Defaults to 0: missed ticks are skipped (and logged).
	BackfillTicks int

	// Codec encodes inputs, outputs and step results. Defaults to JSON.
	Codec Codec

	// Logger receives the engine's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// TracerProvider, if set, turns on OpenTelemetry tracing: a span
	// "workflow <name>" for each execution of a workflow and a span
	// "step <name>" for each step that runs, with attributes
	// dboslite.workflow.id, .name, .attempt and .status, and
	// dboslite.step.id, .name, .attempt and .status. A workflow started
	// in a context that holds a span is stored with that span's W3C
	// traceparent, and each of its executions — here, or after a
	// recovery, adoption or dequeue in another process — is a child of
	// it, in the same trace. Nil, the default, records and stores
	// nothing.
	TracerProvider trace.TracerProvider

	// Store, if set, is used instead of opening SystemDatabaseURL. The
	// engine does not close a store it was given.
	Store store.Store

	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time

	// NewID returns a new workflow ID. Defaults to a ULID.
	NewID func() string
}

// withDefaults fills the documented defaults from the environment.
func (c Config) withDefaults() Config {
	if c.SystemDatabaseURL == "" {
		c.SystemDatabaseURL = os.Getenv("DBOS_SYSTEM_DATABASE_URL")
	}
	if c.SystemDatabaseURL == "" && c.AppName != "" {
		c.SystemDatabaseURL = "sqlite:" + c.AppName + ".sqlite"
	}
	if c.ExecutorID == "" {
		c.ExecutorID = os.Getenv("DBOS__VMID")
	}
	if c.ExecutorID == "" {
		c.ExecutorID = "local"
	}
	if c.ApplicationVersion == "" {
		c.ApplicationVersion = os.Getenv("DBOS__APPVERSION")
	}
	if c.ApplicationVersion == "" {
		c.ApplicationVersion = DefaultApplicationVersion
	}
	if c.MaxRecoveryAttempts == 0 {
		c.MaxRecoveryAttempts = DefaultMaxRecoveryAttempts
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = time.Minute
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.InstanceLease == 0 {
		c.InstanceLease = max(15*time.Second, 2*c.HeartbeatInterval)
	}
	if c.SuspendSleepsOver == 0 {
		c.SuspendSleepsOver = 5 * time.Second
	}
	if c.Codec == nil {
		c.Codec = JSON{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = func() string { return ulid.Make().String() }
	}
	return c
}

// ErrInvalidConfig is matched by the errors of New for a Config that
// cannot work; the message names the field.
var ErrInvalidConfig = errors.New("durable: invalid Config")

func (c Config) validate() error {
	switch {
	case c.AppName == "":
		return fmt.Errorf("%w: AppName is required", ErrInvalidConfig)
	case c.RetainFor < 0 || c.RetainNewest < 0 || c.RetentionInterval < 0:
		return fmt.Errorf("%w: RetainFor, RetainNewest and RetentionInterval may not be negative", ErrInvalidConfig)
	case c.BackfillTicks < 0:
		return fmt.Errorf("%w: BackfillTicks is negative", ErrInvalidConfig)
	case c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: HeartbeatInterval is negative", ErrInvalidConfig)
	case c.InstanceLease < 2*c.HeartbeatInterval:
		return fmt.Errorf("%w: InstanceLease (%v) must be at least twice HeartbeatInterval (%v)", ErrInvalidConfig,
			c.InstanceLease, c.HeartbeatInterval)
	}
	return nil
}
