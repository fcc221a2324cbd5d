package store

// ExecutorLocker is implemented by stores that can tell whether another
// live process already runs as an executor on the same database. Recovery
// needs it: a process recovers the PENDING workflows of its executor ID,
// and two processes with the same ID (two runs of one CLI, both with the
// default ID) must not both run them.
type ExecutorLocker interface {
	// LockExecutor claims executorID for this process until release is
	// called or the process ends, however it ends. It reports false,
	// without error, if another live process holds it.
	LockExecutor(executorID string) (release func(), ok bool, err error)
}
