// Package queue defines durable queues: named limits on how the workflows
// enqueued on them are started, shared by every process that uses the same
// system database.
//
// # Definitions
//
// A [Queue] names the queue and its limits: GlobalConcurrency (running
// workflows across all processes), WorkerConcurrency (per process),
// a [RateLimit] (at most Limit starts per Period) and PartitionConcurrency
// (running workflows per partition key; setting it makes the queue
// partitioned). [Queue.Validate] rejects impossible combinations with a
// [*DefinitionError] naming the field.
//
// # Order
//
// Workflows are started lowest priority first (0, the default, first),
// oldest first among equal priorities.
//
// # Dispatch
//
// The engine (package durable) runs one dispatcher per registered queue:
// it claims work in one atomic store operation within the queue's limits,
// and polls, backing off up to PollInterval, for work other processes
// enqueued.
package queue
