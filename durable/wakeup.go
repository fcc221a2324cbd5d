package durable

import (
	"container/heap"
	"sync"
	"time"
)

// wakeups resumes suspended runs when their sleep is due. One timer serves
// them all, armed for the earliest: a suspended run costs a heap entry,
// not a timer and a goroutine.
type wakeups struct {
	mu     sync.Mutex
	due    wakeHeap
	timer  *time.Timer
	at     time.Time // when timer fires; zero if not armed
	resume func(*run)
	now    func() time.Time
	closed bool
}

type wake struct {
	at time.Time
	r  *run
}

type wakeHeap []wake

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wake)) }
func (h *wakeHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}

// add schedules r to resume at t.
func (w *wakeups) add(r *run, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	heap.Push(&w.due, wake{at: t, r: r})
	w.arm()
}

// arm sets the timer for the earliest wake-up. Called with mu held.
func (w *wakeups) arm() {
	if len(w.due) == 0 {
		return
	}
	first := w.due[0].at
	if !w.at.IsZero() && !first.Before(w.at) {
		return
	}
	w.at = first
	d := first.Sub(w.now())
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

// fire resumes every run that is due, each in its own goroutine.
func (w *wakeups) fire() {
	w.mu.Lock()
	w.at = time.Time{}
	now := w.now()
	var ready []*run
	for len(w.due) > 0 && !w.due[0].at.After(now) {
		ready = append(ready, heap.Pop(&w.due).(wake).r)
	}
	if !w.closed {
		w.arm()
	}
	w.mu.Unlock()
	for _, r := range ready {
		go w.resume(r)
	}
}

// close stops the timer; nothing resumes after it.
func (w *wakeups) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.due = nil
}
