// Package postgres is the production system database: a [store.Store] on
// PostgreSQL, through pgx's database/sql driver and sqlx, that any number
// of processes on any number of machines share. A program links it in
// with a blank import, after which [store.Open] (and so durable.Config's
// SystemDatabaseURL) accepts postgres://, postgresql:// and libpq
// key=value URLs:
//
//	import _ "github.com/dboslite/dboslite/store/postgres"
//
// # URLs
//
// Anything pgx accepts, plus schema=name (default dboslite), the schema
// that holds every table, and max_conns=n (default 16), the pool's bound;
// see [ParseURL]. Without connect_timeout, a connection attempt gives up
// after [DefaultConnectTimeout], so a server that is down fails [Open]
// within seconds. Errors show the URL without its password.
//
// # Schema
//
// The migrations are embedded and numbered as store/sqlite's (0001 to
// 0006); each runs in its own transaction under an advisory lock keyed by
// the schema, so processes that start together apply each once. A schema
// migrated by a newer program is refused with a *[store.SchemaError].
// Times are Unix milliseconds (bigint), payloads bytea, IDs text.
//
// [OpenWith] with [store.OpenOptions] Existing migrates nothing and
// creates no schema; with ReadOnly every pooled connection sets
// default_transaction_read_only, and writes are [store.ErrReadOnly].
//
// # Listings
//
// Workflows are listed in the order of the transactions that inserted
// them, and a listing that may be continued stops short of the oldest
// transaction still open on the server, so that no row can appear later
// behind a page already read: see list.go for the argument.
//
// # Concurrency
//
// Every invariant is the database's. A step is recorded once by the
// primary key of steps, and only while its writer owns the workflow: the
// insert locks the workflow's row, so it is ordered with cancels and
// adoptions. Enqueue deduplicates by a unique partial index; a stream's
// offsets are its primary key; a message is consumed once, FOR UPDATE
// SKIP LOCKED. Claims of a queue are serialised by an advisory lock per
// queue, under which its limits are counted (see [Store.Claim]). Where a
// Now parameter is zero, the time is the database server's, and
// heartbeats and leases always are.
//
// # Group commit
//
// The writes of running workflows (CreateWorkflow, RecordStep,
// SetOutcome) that arrive while one of their kind is in flight are
// written together when it returns: one statement, on each write's own
// conditions, row by row, and one commit for the batch. A lone write
// goes at once, with the single-row statement, and nothing waits on a
// timer. Each caller gets the answer its own write would have had.
//
// # Errors
//
// A transient error (a lost connection, a serialization failure or a
// deadlock, a server restarting) is tried again, briefly, where that is
// safe: reads, writes that surely did not commit, and writes that change
// nothing when applied twice. A write that must not be applied twice and
// may have committed fails with [ErrOutcomeUnknown].
//
// # Wake-ups
//
// Each write notifies the keys it wakes (see [store.Watcher]) on the
// schema's channel in its own transaction; each Store listens on one
// connection of its own, outside the pool, and wakes its watchers of the
// keys it hears, and its own watchers at once when it commits. A lost
// listening connection is made again with back-off; meanwhile FeedLost
// reports true and waiters poll.
package postgres
