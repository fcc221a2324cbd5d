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
// [*StepError]. Calling [Workflow.Start] from a workflow makes a child
// workflow whose ID is "<parent>-<step number>".
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
// # Recovery
//
// At Launch the engine resumes the PENDING workflows recorded under its
// executor ID and application version: it calls each workflow function
// again, recorded steps return their recorded results without running, and
// the first unrecorded step runs for real. A workflow whose name is not
// registered stays PENDING. A workflow recovered more than its maximum
// recovery attempts ends as MAX_RECOVERY_ATTEMPTS_EXCEEDED.
//
// # Determinism
//
// Replay works only if a workflow calls the same steps in the same order
// given the same input and recorded results. Put everything that varies —
// time, randomness, I/O — inside steps. A replay that calls a different step
// name than the one recorded gets a [*DeterminismError].
//
// # Shutdown
//
// [Engine.Shutdown] cancels the context of every running workflow and
// step and waits for them; what they were doing stays PENDING and resumes
// at the next Launch.
package durable
