// Package durable runs durable workflows: ordinary Go functions whose steps
// are checkpointed in a system database, so a workflow cut short by a
// crash, a kill or a reboot resumes from its last completed step when the
// program starts again.
//
// # Workflows
//
// Make an [Engine] with [New], register each workflow function under an
// explicit name with [Register], then [Engine.Launch]. [Workflow.Start]
// returns a [Handle] at once; [Workflow.Run] waits for the result. A
// workflow ID (a ULID unless [WithID] gives one) names one execution
// forever: starting an ID that exists returns that workflow and never runs
// it twice.
//
// # Steps
//
// Inside a workflow, [Step] runs a function and records its result. Steps
// are numbered in the order the workflow calls them. A [RetryPolicy] retries
// a failing step; its final error is recorded and returned as a
// [*StepError]. [WithStepTimeout] bounds each attempt. Calling
// [Workflow.Start] from a workflow makes a child workflow whose ID is
// "<parent>-<step number>".
//
// Durable operations (steps, children, Send, Recv, Sleep, events,
// streams) must be called from the workflow function's own goroutine; from
// any other they fail with [ErrNotWorkflowGoroutine], because their step
// numbers would depend on scheduling. To run steps concurrently, start
// each with [Go], which takes its step number at once, in call order, and
// [Future.Wait] for the results. To run child workflows concurrently,
// Start them one after another and wait on their handles.
//
// # What a replay returns
//
// A replay is the first run: a step, a child, a message or an event gives
// the workflow the same value and the same error on the first run as on
// any replay after a crash, a restart, an adoption or a suspended sleep.
// The engine makes it so by handing the first run what it recorded, read
// back: values are encoded with the [Codec] and decoded again (so with
// JSON a time.Time inside an any is a string and numbers in a
// map[string]any are float64, both times, and unexported fields are not
// kept), and errors are read back from their record.
//
// An error is recorded as its message, its Go type's name and the
// identities the engine keeps; it reads back as a [*RecordedError] with
// that message which unwraps to those identities. So errors.Is and
// errors.As answer the same on every run for: the engine's own errors
// ([ErrWorkflowCancelled], [ErrDeadlineExceeded], [ErrTimeout],
// [ErrStepTimeout], [*StepError] with each attempt, [*DeterminismError],
// [*DeduplicatedError], [*PanicError] with its stack, context.Canceled,
// context.DeadlineExceeded, …); a program's sentinels registered with
// [RegisterError]; and a program's error types registered with
// [RegisterErrorType], rebuilt from their exported fields. Any other
// error keeps its message only: errors.Is on it is false on the first run
// as on a replay. Compare errors with errors.Is and errors.As, never with
// == or a type assertion.
//
// # Messages, events and streams
//
// Workflows talk to the world durably. [Send] (or [Engine.Send] from
// outside) queues a message; [Recv] takes the next one of a topic, each
// exactly once, waiting up to a durable timeout. [SetEvent] publishes a
// value that [GetEvent] waits for from anywhere. [WriteStream] and
// [CloseStream] append to a stream that [ReadStream] iterates. Waiters in
// this process wake when the write commits; waiters in another process on
// the same SQLite file within about 40 ms.
//
// # Sleep, timeouts and cancellation
//
// [Sleep] records its wake-up time first, so after a restart it sleeps
// only what is left; a long sleep suspends the workflow without a
// goroutine. [WithTimeout] gives a workflow a durable deadline that its
// children inherit unless [Detached]. [Engine.Cancel] sets a workflow and
// its children CANCELLED and cancels the context of a running step.
//
// # Queues
//
// [RegisterQueue] makes the engine serve a [queue.Queue] from Launch on.
// [WithQueue] makes Start enqueue instead of run: the workflow is recorded
// ENQUEUED and runs in whichever process serving the queue claims it
// first, within the queue's limits, ordered by [WithPriority] and
// deduplicated by [WithDeduplicationID]. A queued workflow recovered after
// a crash goes back through its queue.
//
// A [Debouncer] starts a workflow for a key once calls for that key pause,
// with the last input: see [NewDebouncer].
//
// # Schedules
//
// [WithSchedule] runs a workflow that takes a time.Time on a cron
// expression with seconds, in a time zone ([InZone]); [Engine.CreateSchedule]
// adds a schedule at run time, and [Engine.PauseSchedule],
// [Engine.ResumeSchedule], [Engine.DeleteSchedule] and
// [Engine.TriggerSchedule] act on any. Schedules live in the system
// database and every launched engine serves them; each tick's workflow ID
// is made of the schedule's name and the tick, so it runs once. Ticks
// missed while no engine ran are skipped unless [Config.BackfillTicks].
//
// # Recovery, executors and adoption
//
// Every launched engine registers an instance of itself in the system
// database (executor ID, application version, host, PID) and renews its
// heartbeat every [Config.HeartbeatInterval]. A PENDING workflow names the
// instance that runs it, and the database refuses any write for it from
// another instance, so no two live engines run one workflow at once,
// whatever their executor IDs.
//
// An instance is dead once it shuts down, once its heartbeat is older than
// [Config.InstanceLease] by the database's clock, or — at once — when an
// engine on the same host sees that its process is gone. At Launch and
// every HeartbeatInterval after, a live engine adopts the PENDING
// workflows of dead instances, each with one atomic claim: a queued one
// goes back to its queue, freeing its slot; another, of this engine's
// application version and registered here, is recovered: the engine calls
// the workflow function again, recorded steps return their recorded
// results without running, and the first unrecorded step runs for real. A
// workflow whose name is not registered stays PENDING for an engine that
// has it, and is logged. A workflow recovered more than its maximum
// recovery attempts ends as MAX_RECOVERY_ATTEMPTS_EXCEEDED. An engine that
// finds itself declared dead (it was paused past its lease) stops its
// runs without recording more and registers again.
//
// # Database errors
//
// Only a workflow's own code decides that it ends in ERROR. A durable
// operation that meets a database error returns an error matching
// [ErrSystemDatabase]; whatever the workflow then returns, the workflow
// stays PENDING and this engine replays it after a back-off (50ms,
// doubling to 30s) until the database answers.
//
// # Determinism
//
// Replay works only if a workflow calls the same steps in the same order
// given the same input and recorded results. Put everything that varies —
// time, randomness, I/O — inside steps. A replay that calls a different step
// name than the one recorded gets a [*DeterminismError]. To change a
// workflow's steps while some are in flight, branch on [Patch] (then
// [DeprecatePatch]), or give the new code a new
// [Config.ApplicationVersion].
//
// # Shutdown
//
// [Engine.Shutdown] cancels the context of every running workflow and
// step and waits for them; what they were doing stays PENDING and resumes
// at the next Launch.
//
// # Tracing
//
// With [Config].TracerProvider set, each run of a workflow and each step
// that runs is an OpenTelemetry span. A workflow started in a traced
// context stores that context, so its runs anywhere, its children and
// its queued workflows continue the same trace.
package durable
