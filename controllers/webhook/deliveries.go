package webhook

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
)

// deliveryState is the delivery cache's entry for one delivery ID.
type deliveryState int

const (
	// deliveryInProgress marks a delivery whose handling has not finished.
	deliveryInProgress deliveryState = iota
	// deliveryDone marks a delivery that was handled.
	deliveryDone
)

// deliveryCache remembers recent X-GitHub-Delivery IDs so that a delivery
// sent twice is handled once. It is bounded in size and in time: the least
// recently seen ID is evicted first, and every ID expires after the TTL.
type deliveryCache struct {
	mu  sync.Mutex
	lru *cache.LRUExpireCache
	ttl time.Duration
}

func newDeliveryCache(size int, ttl time.Duration) *deliveryCache {
	return &deliveryCache{lru: cache.NewLRUExpireCache(size), ttl: ttl}
}

// begin records id as in progress. It returns false when id is already in
// progress or done, so the caller must not handle the delivery again.
func (c *deliveryCache) begin(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()

	if _, seen := c.lru.Get(id); seen {
		return false
	}
	c.lru.Add(id, deliveryInProgress, c.ttl)
	return true
}

// finish records id as handled, unless it was forgotten meanwhile by a
// background check that failed.
func (c *deliveryCache) finish(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.lru.Get(id); ok {
		c.lru.Add(id, deliveryDone, c.ttl)
	}
}

// forget removes id, so that GitHub's redelivery of a failed delivery is
// handled again.
func (c *deliveryCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(id)
}
