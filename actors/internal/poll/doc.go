// Package poll is the shared readiness poller that idle and passivated
// connections wait on instead of holding a goroutine each. It knows
// nothing of connections: a [Waiter] registers a socket descriptor with
// [Poller.Add], and the poller calls its Ready once, when the socket
// becomes readable (bytes, or the peer closing), unless [Poller.Remove]
// took the registration back first. Exactly one of the two wins, decided
// under the poller's lock, which is what lets the connection's state
// machine hand its socket to the poller and take it back without losing a
// wake-up.
//
// # Goroutines
//
// One goroutine waits for every registration of a Poller. It starts with
// the first Add and ends once nothing has been registered for the
// poller's linger (100 ms by default), so an idle process (and a test
// under goleak) has none. Ready runs on that goroutine, outside the lock
// (each registration is taken under the lock, then its Ready runs), so a
// waiter can serve its socket right there and register again: that is
// the event loop, many ready sockets served per wake-up with no goroutine
// switch. A Ready that is about to block (a write to a peer that does not
// read) calls [Poller.Handoff]: another goroutine becomes the poller's and
// goes on with the rest of the wake-up, and the caller's goroutine is its
// own once Ready returns.
//
// # Watches
//
// Add registers one-shot: each wake-up is paid for by arming the
// registration again (one epoll_ctl). An event loop that serves a socket
// after every message uses [Poller.Watch] instead: an edge-triggered
// registration that stays in the epoll set, armed again with
// [Poller.Rearm] at no cost once the waiter's read came short; an edge
// that comes while the waiter is busy is kept for that Rearm, and the
// peer's end is reported to every Rearm once seen. [Poller.RearmCheck]
// has the kernel look at the socket, for a waiter whose read filled its
// buffer. The poller's goroutine does not end while a watch is registered.
//
// # Errors
//
// If waiting fails (epoll_wait returns an error other than EINTR), the
// poller calls Ready for every registration, reports the error to its
// OnError hook, closes its epoll instance and ends: every waiter then
// falls back to its own goroutine, so a failure costs memory, never a
// stall. The next Add starts a new epoll instance.
//
// On systems other than Linux there is no poller: Add always fails with
// [ErrUnsupported], and callers keep their goroutines.
package poll
