package poll

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waiter counts its wake-ups and signals each on a channel.
type waiter struct {
	n     atomic.Int32
	ready chan struct{}
}

func newWaiter() *waiter { return &waiter{ready: make(chan struct{}, 16)} }

func (w *waiter) Ready() {
	w.n.Add(1)
	w.ready <- struct{}{}
}

func (w *waiter) await(t *testing.T) {
	t.Helper()
	select {
	case <-w.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up in 5 s")
	}
}

// pair is a connected pair of stream sockets: a is registered, b plays
// the peer.
func pair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
	})
	return fds[0], fds[1]
}

// stopped waits for p's goroutine to end.
func stopped(t *testing.T, p *Poller) {
	t.Helper()
	require.Eventually(t, func() bool { return !p.Running() }, 5*time.Second, time.Millisecond)
}

func TestWakesOnBytes(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	k, err := p.Add(a, w)
	require.NoError(t, err)
	require.NotZero(t, k)
	assert.Equal(t, 1, p.Len())
	assert.Never(t, func() bool { return w.n.Load() != 0 }, 30*time.Millisecond, time.Millisecond,
		"woken with nothing to read")

	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	w.await(t)
	assert.Equal(t, 0, p.Len())
	assert.False(t, p.Remove(a, k), "a fired registration is not removable")
	stopped(t, p)
}

func TestWakesOnPeerClose(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	_, err := p.Add(a, w)
	require.NoError(t, err)
	require.NoError(t, syscall.Shutdown(b, syscall.SHUT_WR))
	w.await(t)
	stopped(t, p)
}

func TestOneShotThenRearm(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	_, err := p.Add(a, w)
	require.NoError(t, err)
	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	w.await(t)
	// Still readable, but one-shot: no second wake-up until armed again.
	assert.Never(t, func() bool { return w.n.Load() != 1 }, 30*time.Millisecond, time.Millisecond)

	// Armed again while the byte is still unread (level-triggered): at once.
	k2, err := p.Add(a, w)
	require.NoError(t, err)
	w.await(t)
	assert.Equal(t, int32(2), w.n.Load())
	assert.False(t, p.Remove(a, k2))
	stopped(t, p)
}

// A write registration fires once the socket can take bytes again, and
// not while it cannot; a duplicate of a descriptor watched for reads
// carries it.
func TestAddWritable(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	reads := newWaiter()
	kw, err := p.Watch(a, reads)
	require.NoError(t, err)
	require.NoError(t, syscall.SetNonblock(a, true))
	for { // fill a's send buffer
		if _, err := syscall.Write(a, make([]byte, 64<<10)); err == syscall.EAGAIN {
			break
		} else {
			require.NoError(t, err)
		}
	}
	dup, err := syscall.Dup(a)
	require.NoError(t, err)
	defer syscall.Close(dup)
	w := newWaiter()
	k, err := p.AddWritable(dup, w)
	require.NoError(t, err)
	assert.Never(t, func() bool { return w.n.Load() != 0 }, 30*time.Millisecond, time.Millisecond,
		"woken while the socket takes nothing")
	require.NoError(t, syscall.SetNonblock(b, true))
	buf := make([]byte, 1<<20)
	for { // the peer reads all there is
		if _, err := syscall.Read(b, buf); err == syscall.EAGAIN {
			break
		} else {
			require.NoError(t, err)
		}
	}
	w.await(t)
	assert.False(t, p.Remove(dup, k), "fired")
	assert.Zero(t, reads.n.Load(), "the read watch did not fire: nothing came to read")
	p.Remove(a, kw)
	stopped(t, p)
}

func TestRemoveBeforeFire(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	k, err := p.Add(a, w)
	require.NoError(t, err)
	assert.True(t, p.Remove(a, k))
	assert.False(t, p.Remove(a, k), "removed twice")
	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	assert.Never(t, func() bool { return w.n.Load() != 0 }, 30*time.Millisecond, time.Millisecond,
		"a removed registration fired")
	assert.False(t, p.Remove(a, 12345), "an unknown key")
	stopped(t, p)
}

// Remove and a firing wake-up race: exactly one of them wins, every time.
func TestRemoveRacesFire(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	buf := make([]byte, 1)
	for range 500 {
		w := newWaiter()
		k, err := p.Add(a, w)
		require.NoError(t, err)
		_, err = syscall.Write(b, []byte("x"))
		require.NoError(t, err)
		removed := p.Remove(a, k)
		if !removed {
			w.await(t)
		}
		assert.Equal(t, removed, w.n.Load() == 0, "removed=%v but woken %d times", removed, w.n.Load())
		_, err = syscall.Read(a, buf) // drain for the next round
		require.NoError(t, err)
	}
	stopped(t, p)
}

func TestManyRegistrations(t *testing.T) {
	const n = 2000
	p := New(10 * time.Millisecond)
	var woken atomic.Int32
	all := make(chan struct{})
	peers := make([]int, n)
	for i := range n {
		a, b := pair(t)
		peers[i] = b
		_, err := p.Add(a, waiterFunc(func() {
			if woken.Add(1) == n {
				close(all)
			}
		}))
		require.NoError(t, err)
	}
	assert.Equal(t, n, p.Len())
	for _, b := range peers {
		_, err := syscall.Write(b, []byte("x"))
		require.NoError(t, err)
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d woken", woken.Load(), n)
	}
	assert.Equal(t, 0, p.Len())
	stopped(t, p)
}

type waiterFunc func()

func (f waiterFunc) Ready() { f() }

// The goroutine ends after the linger with nothing registered, and the
// next Add starts it again.
func TestLingerAndRestart(t *testing.T) {
	p := New(20 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	k, err := p.Add(a, w)
	require.NoError(t, err)
	require.True(t, p.Remove(a, k))
	assert.True(t, p.Running(), "it lingers")
	stopped(t, p)

	_, err = p.Add(a, w)
	require.NoError(t, err)
	assert.True(t, p.Running())
	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	w.await(t)
	stopped(t, p)
}

// A registered waiter keeps the goroutine alive past the linger.
func TestStaysWhileRegistered(t *testing.T) {
	p := New(5 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	_, err := p.Add(a, w)
	require.NoError(t, err)
	assert.Never(t, func() bool { return !p.Running() }, 50*time.Millisecond, time.Millisecond)
	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	w.await(t)
	stopped(t, p)
}

func TestAddErrors(t *testing.T) {
	p := New(10 * time.Millisecond)
	_, err := p.Add(-1, newWaiter())
	assert.ErrorIs(t, err, syscall.EBADF)
	f, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer syscall.Close(f)
	_, err = p.Add(f, newWaiter())
	assert.ErrorIs(t, err, syscall.EPERM, "a regular file cannot be polled")
	assert.Equal(t, 0, p.Len())
	stopped(t, p)
}

// A failed wait wakes every waiter and reports the error once; the
// poller then starts over on the next Add.
func TestWaitErrorWakesEveryone(t *testing.T) {
	p := New(10 * time.Millisecond)
	var mu sync.Mutex
	var errs []error
	p.OnError = func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	ws := make([]*waiter, 20)
	for i := range ws {
		a, _ := pair(t)
		ws[i] = newWaiter()
		_, err := p.Add(a, ws[i])
		require.NoError(t, err)
	}
	p.breakEpoll()
	for _, w := range ws {
		w.await(t)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) > 0 },
		5*time.Second, time.Millisecond)
	stopped(t, p)
	mu.Lock()
	require.Len(t, errs, 1)
	assert.True(t, errors.Is(errs[0], syscall.EBADF) || errors.Is(errs[0], syscall.EINVAL), "%v", errs[0])
	mu.Unlock()

	a, b := pair(t)
	w := newWaiter()
	_, err := p.Add(a, w)
	require.NoError(t, err)
	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	w.await(t)
	stopped(t, p)
}

// funcWaiter runs f as its Ready.
type funcWaiter func()

func (f funcWaiter) Ready() { f() }

// Ready runs outside the poller's lock: a waiter serves its socket and
// registers again from Ready, as the event loop does, message after
// message, with one goroutine.
func TestReadyRegistersAgain(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	served := make(chan byte, 8)
	var w funcWaiter
	var k atomic.Uint64
	w = func() {
		buf := make([]byte, 1)
		n, _ := syscall.Read(a, buf)
		kk, err := p.Add(a, w)
		if err != nil {
			t.Error(err)
		}
		k.Store(uint64(kk))
		if n == 1 {
			served <- buf[0]
		}
	}
	k0, err := p.Add(a, w)
	require.NoError(t, err)
	k.Store(uint64(k0))
	for i := range byte(5) {
		_, err := syscall.Write(b, []byte{'a' + i})
		require.NoError(t, err)
		select {
		case got := <-served:
			assert.Equal(t, 'a'+i, got)
		case <-time.After(5 * time.Second):
			t.Fatal("not served")
		}
	}
	require.Equal(t, 1, p.Len(), "registered again after each message")
	assert.Equal(t, 5, p.Events())
	require.True(t, p.Remove(a, Key(k.Load())), "the last registration is still waiting")
	stopped(t, p)
}

// A Ready that is about to block hands the poller off: the rest of the
// same wake-up is dispatched, and later wake-ups served, by another
// goroutine while the first one blocks.
func TestHandoff(t *testing.T) {
	p := New(10 * time.Millisecond)
	a1, b1 := pair(t)
	a2, b2 := pair(t)
	a3, b3 := pair(t)
	release := make(chan struct{})
	blocked := make(chan struct{})
	first := funcWaiter(func() {
		p.Handoff()
		close(blocked)
		<-release // blocks: the poller goes on without this goroutine
	})
	w2, w3 := newWaiter(), newWaiter()
	_, err := p.Add(a1, first)
	require.NoError(t, err)
	_, err = p.Add(a2, w2)
	require.NoError(t, err)
	_, err = p.Add(a3, w3)
	require.NoError(t, err)
	// a1 and a2 readable before the poller looks: usually one wake-up.
	for _, b := range []int{b1, b2} {
		_, err := syscall.Write(b, []byte("x"))
		require.NoError(t, err)
	}
	<-blocked
	w2.await(t) // the other socket of the wake-up is served meanwhile
	_, err = syscall.Write(b3, []byte("x"))
	require.NoError(t, err)
	w3.await(t) // and so is a later one
	close(release)
	stopped(t, p)
}

// AddNew registers a descriptor new to the poller, and still works for
// one registered before (it falls back to re-arming it).
func TestAddNew(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	_, err := p.AddNew(a, w)
	require.NoError(t, err)
	_, err = syscall.Write(b, []byte("x"))
	require.NoError(t, err)
	w.await(t)
	drain(t, a)
	_, err = p.AddNew(a, w) // fired, still in the set: re-armed
	require.NoError(t, err)
	_, err = syscall.Write(b, []byte("y"))
	require.NoError(t, err)
	w.await(t)
	stopped(t, p)
}

// drain reads what is waiting on fd.
func drain(t *testing.T, fd int) {
	t.Helper()
	buf := make([]byte, 64)
	_, err := syscall.Read(fd, buf)
	require.NoError(t, err)
}

// A watch stays registered: it fires once, keeps an edge that comes while
// it is disarmed for Rearm to report, and is armed again with no system
// call; Remove reports whether it was armed, and Rearm then says gone.
// While a watch is registered the poller's goroutine does not end.
func TestWatch(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	k, err := p.Watch(a, w)
	require.NoError(t, err)
	write := func() {
		_, err := syscall.Write(b, []byte("x"))
		require.NoError(t, err)
	}
	write()
	w.await(t)
	write() // disarmed: kept as pending
	assert.Never(t, func() bool { return w.n.Load() != 1 }, 30*time.Millisecond, time.Millisecond)
	ready, gone := p.Rearm(k)
	require.True(t, ready, "the edge that came while disarmed")
	require.False(t, gone)
	drain(t, a)
	ready, gone = p.Rearm(k)
	require.False(t, ready)
	require.False(t, gone)
	write()
	w.await(t)
	assert.Equal(t, int32(2), w.n.Load())
	assert.True(t, p.Running(), "a registered watch keeps the poller")

	drain(t, a) // what the wake-up announced is read before the watch is armed again
	ready, gone = p.Rearm(k)
	require.False(t, ready)
	require.False(t, gone)
	require.True(t, p.Remove(a, k), "an armed watch is taken back")
	_, gone = p.Rearm(k)
	assert.True(t, gone)
	stopped(t, p)
}

// The peer's end is announced once; every Rearm then reports it, so that
// a reader whose short read left the end unread still reads it.
func TestWatchEndIsSticky(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	k, err := p.Watch(a, w)
	require.NoError(t, err)
	_, err = syscall.Write(b, []byte("last"))
	require.NoError(t, err)
	require.NoError(t, syscall.Shutdown(b, syscall.SHUT_WR))
	w.await(t)
	for range 3 {
		ready, gone := p.Rearm(k)
		require.True(t, ready)
		require.False(t, gone)
	}
	assert.False(t, p.Remove(a, k), "a disarmed watch: Ready has run")
	stopped(t, p)
}

// Bytes already there when a watch is armed make no edge: RearmCheck has
// the kernel look, and the watch fires.
func TestRearmCheck(t *testing.T) {
	p := New(10 * time.Millisecond)
	a, b := pair(t)
	w := newWaiter()
	k, err := p.Watch(a, w)
	require.NoError(t, err)
	_, err = syscall.Write(b, []byte("xy"))
	require.NoError(t, err)
	w.await(t)
	_, err = syscall.Read(a, make([]byte, 1)) // one byte of two: not drained
	require.NoError(t, err)
	gone, err := p.RearmCheck(a, k)
	require.NoError(t, err)
	require.False(t, gone)
	w.await(t)
	drain(t, a)
	p.Remove(a, k)
	stopped(t, p)
}
