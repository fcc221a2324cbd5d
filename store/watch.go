package store

// Watcher is implemented by stores that wake waiters when what they wait
// for may have changed: a commit in this process wakes them at once, a
// commit by another process soon after. The engine polls stores that do
// not implement it.
type Watcher interface {
	// Watch returns a channel that receives after any commit that may
	// have changed what key names (see the Key functions), and a function
	// that stops the watch. Wake-ups coalesce: one receive may stand for
	// many commits, and a receive may be spurious, so a waiter re-reads
	// what it waits for after each. Watch before reading, so no commit
	// falls between the read and the wait.
	Watch(key string) (<-chan struct{}, func())
}

// KeyWorkflow names a workflow's status: it changes when the workflow is
// created, finishes, is cancelled or recovered.
func KeyWorkflow(id string) string { return "w\x00" + id }

// KeyMessages names the messages sent to a workflow.
func KeyMessages(id string) string { return "m\x00" + id }

// KeyEvent names one event of a workflow.
func KeyEvent(id, key string) string { return "e\x00" + id + "\x00" + key }

// KeyStream names one stream of a workflow.
func KeyStream(id, key string) string { return "s\x00" + id + "\x00" + key }

// KeyAny is woken by every commit another process makes, and by nothing
// else: a process watches it to notice work it did not do itself.
const KeyAny = "*"
