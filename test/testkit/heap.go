package testkit

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// HeapSampler samples the process's heap in use (runtime.MemStats
// HeapInuse) on a goroutine of its own. An example's run function runs
// in the test's process, so this is the server's heap plus the test's
// own (and that of any test running in parallel).
type HeapSampler struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	peak uint64
	n    int
}

// SampleHeap samples the heap in use every period until Stop, or until
// the test ends. It collects the garbage first, so that what earlier
// tests left does not count (nor raise the next collection's goal).
func SampleHeap(t testing.TB, every time.Duration) *HeapSampler {
	t.Helper()
	runtime.GC()
	h := &HeapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	h.sample()
	go func() {
		defer close(h.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				h.sample()
			}
		}
	}()
	t.Cleanup(func() { h.Stop() })
	return h
}

func (h *HeapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.peak = max(h.peak, ms.HeapInuse)
	h.n++
}

// Stop ends the sampling, takes a last sample, and returns the peak heap
// in use and how many samples were taken.
func (h *HeapSampler) Stop() (peak uint64, samples int) {
	h.once.Do(func() {
		close(h.stop)
		<-h.done
		h.sample()
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak, h.n
}
