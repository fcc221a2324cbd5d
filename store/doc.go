// Package store defines what dboslite keeps in its system database: the
// record types, the [Store] interface every backend implements, the sentinel
// errors of that contract, and [Open], which opens a store from a URL.
//
// # Import rule
//
// store knows records and bytes, never workflows as Go functions: it imports
// no other package of this module and no database driver. Backends live in
// their own packages (store/sqlite, store/postgres) and register themselves
// by URL scheme with [Register], as database/sql drivers do, so opening a
// store never makes this package import a backend.
//
// # Contract
//
// Each Store method is one atomic operation. Payloads (inputs, outputs,
// errors) are bytes the engine has already encoded.
//
// # Clocks
//
// A Now field of a parameters struct is the time the operation happens
// at; when it is zero the store takes the time from its database's clock.
// The engine leaves it zero wherever machines compare times with each
// other — claims and their rate windows, delays, instance leases — so a
// machine with a skewed clock cannot break a limit: on PostgreSQL that is
// the server's clock; on SQLite every process sharing the file runs on
// one machine, whose clock it is. Tests give explicit times to be
// deterministic. Invariants that matter
// under concurrency — a step recorded once per (workflow, step number), a
// workflow ID naming one workflow forever, an outcome written only while the
// workflow is PENDING — are enforced by the database, and store/storetest
// checks each of them against every backend.
package store
