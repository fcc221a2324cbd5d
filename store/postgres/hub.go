package postgres

import (
	"context"
	"sync"

	"github.com/dboslite/dboslite/store"
)

// hub wakes the watchers of this process by key: for the store's own
// commits as soon as they commit, and for every commit of the schema as
// the listener receives its notifications.
type hub struct {
	mu   sync.Mutex
	keys map[string]map[*chan struct{}]struct{}
}

func newHub() *hub {
	return &hub{keys: map[string]map[*chan struct{}]struct{}{}}
}

// watch implements store.Watcher's Watch. Background watches need
// nothing of their own: LISTEN delivers every commit either way.
func (h *hub) watch(ctx context.Context, p store.WatchParams) (<-chan struct{}, func()) {
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
		})
	}
	unhook := context.AfterFunc(ctx, stop)
	return ch, func() { unhook(); stop() }
}

// wake signals ch unless a signal is pending already: wake-ups coalesce.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// notify wakes the watchers of keys.
func (h *hub) notify(keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		for ch := range h.keys[k] {
			wake(*ch)
		}
	}
}

// notifyAll wakes every watcher, once: for what a lost feed may have
// hidden.
func (h *hub) notifyAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.keys {
		for ch := range set {
			wake(*ch)
		}
	}
}
