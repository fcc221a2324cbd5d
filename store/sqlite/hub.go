package sqlite

import (
	"sync"

	"github.com/dboslite/dboslite/store"
)

// hub wakes the waiters of this process. The writer notifies the keys of
// each batch it commits; when it notices another process's commit it wakes
// everyone, since it cannot tell what changed.
type hub struct {
	mu    sync.Mutex
	keys  map[string]map[*chan struct{}]struct{}
	n     int
	armed chan struct{} // signalled when the first watcher arrives
}

func newHub() *hub {
	return &hub{keys: map[string]map[*chan struct{}]struct{}{}, armed: make(chan struct{}, 1)}
}

// Watch implements store.Watcher.
func (h *hub) Watch(key string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	set := h.keys[key]
	if set == nil {
		set = map[*chan struct{}]struct{}{}
		h.keys[key] = set
	}
	set[&ch] = struct{}{}
	h.n++
	if h.n == 1 {
		select {
		case h.armed <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(set, &ch)
			if len(set) == 0 {
				delete(h.keys, key)
			}
			h.n--
		})
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// notify wakes the watchers of keys.
func (h *hub) notify(keys []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		for ch := range h.keys[k] {
			wake(*ch)
		}
	}
}

// notifyAll wakes every watcher, for a commit by another process.
func (h *hub) notifyAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.keys {
		for ch := range set {
			wake(*ch)
		}
	}
}

// watching reports whether anyone waits.
func (h *hub) watching() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n > 0
}

var _ store.Watcher = (*hub)(nil)
