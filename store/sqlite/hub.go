package sqlite

import (
	"context"
	"sync"

	"github.com/dboslite/dboslite/store"
)

// hub wakes the waiters of this process by key. The writer notifies the
// keys of each write it commits, and the keys other processes committed,
// which it reads from the change log (see changes.go).
type hub struct {
	mu    sync.Mutex
	keys  map[string]map[*chan struct{}]struct{}
	eager int           // watches that are not Background: they keep the poll of other processes running
	armed chan struct{} // signalled when the first eager watch arrives
}

func newHub() *hub {
	return &hub{keys: map[string]map[*chan struct{}]struct{}{}, armed: make(chan struct{}, 1)}
}

// Watch implements store.Watcher.
func (h *hub) Watch(ctx context.Context, p store.WatchParams) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	for _, key := range p.Keys {
		set := h.keys[key]
		if set == nil {
			set = map[*chan struct{}]struct{}{}
			h.keys[key] = set
		}
		set[&ch] = struct{}{}
	}
	if !p.Background {
		if h.eager++; h.eager == 1 {
			select {
			case h.armed <- struct{}{}:
			default:
			}
		}
	}
	h.mu.Unlock()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, key := range p.Keys {
				set := h.keys[key]
				delete(set, &ch)
				if len(set) == 0 {
					delete(h.keys, key)
				}
			}
			if !p.Background {
				h.eager--
			}
		})
	}
	unhook := context.AfterFunc(ctx, stop)
	return ch, func() { unhook(); stop() }
}

// FeedLost implements store.Watcher: SQLite reads other processes'
// changes from the file itself, a feed it cannot lose.
func (h *hub) FeedLost() bool { return false }

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

// notifyAll wakes every watcher: the change log lost entries the poll
// had not read.
func (h *hub) notifyAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.keys {
		for ch := range set {
			wake(*ch)
		}
	}
}

// watching reports whether an eager watch exists.
func (h *hub) watching() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.eager > 0
}

var _ store.Watcher = (*hub)(nil)
