package process

import "sync"

// Hub wakes watchers when the outbox grows. A watcher takes the channel of
// Wait, reads the outbox from its cursor, and waits on the channel, which is
// closed at the next commit with notifications.
type Hub struct {
	mu sync.Mutex
	ch chan struct{}
}

func newHub() *Hub { return &Hub{ch: make(chan struct{})} }

// Wait returns a channel closed at the next notify.
func (h *Hub) Wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

func (h *Hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.ch)
	h.ch = make(chan struct{})
}
