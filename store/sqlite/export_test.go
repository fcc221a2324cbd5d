package sqlite

// The statements of the store, for tests of their plans.
var (
	ListQuery = listQuery
	GCQuery   = gcQuery
)

const (
	QueueDepths = queueDepths
	DedupHolder = dedupHolder
	ReadyWhere  = readyWhere
)
