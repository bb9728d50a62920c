package pool

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Action is what the pool does with a connection that ended or failed to
// start: a small value like protoactor's Directive.
type Action uint8

const (
	// ActionBackoff restarts the connection after its next backoff delay
	// (see [Backoff]). It is the zero Action, and the default.
	ActionBackoff Action = iota
	// ActionRestart dials again at once.
	ActionRestart
	// ActionRestartAfter dials again after [Decision.Delay].
	ActionRestartAfter
	// ActionDelete removes the connection from the pool.
	ActionDelete
	// ActionStopPool stops the whole pool with [Decision.Reason].
	ActionStopPool
)

var actionNames = [...]string{"backoff", "restart", "restart-after", "delete", "stop-pool"}

// String names the action.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Decision is an [ExitPolicy]'s answer for one connection. Build it with
// [RestartBackoff], [Restart], [RestartAfter], [Delete] or [StopPool]; the
// zero Decision is RestartBackoff.
type Decision struct {
	// Action is what to do.
	Action Action
	// Delay is the wait before an ActionRestartAfter dial.
	Delay time.Duration
	// Reason is the reason an ActionStopPool stops the pool with (every
	// connection's Terminate sees it; nil means actors.ErrShutdown).
	Reason error
}

// RestartBackoff restarts the connection after its next backoff delay.
func RestartBackoff() Decision { return Decision{Action: ActionBackoff} }

// Restart dials again at once. Against a server that refuses connections
// this retries in a tight loop: prefer it only for the first few
// [Exit.Failures].
func Restart() Decision { return Decision{Action: ActionRestart} }

// RestartAfter dials again after d (at once when d <= 0).
func RestartAfter(d time.Duration) Decision {
	if d <= 0 {
		return Restart()
	}
	return Decision{Action: ActionRestartAfter, Delay: d}
}

// Delete removes the connection from the pool; it does not come back.
func Delete() Decision { return Decision{Action: ActionDelete} }

// StopPool stops the whole pool; its connections' Terminate and the
// pool's [Pool.Err] see reason.
func StopPool(reason error) Decision { return Decision{Action: ActionStopPool, Reason: reason} }

// Exit describes a connection that ended, or whose dial or start failed.
type Exit struct {
	// ID and Addr identify the connection.
	ID   ID
	Addr string
	// Reason is why: nil for a normal end (the peer closed, or the
	// handler closed or stopped without a reason); it wraps
	// [ErrStartFailed] when the connection never came up.
	Reason error
	// Failures counts this connection's exits in a row, this one
	// included; it starts again from 1 after the connection stayed up
	// for [Backoff.ResetAfter].
	Failures int
	// Uptime is how long the connection was up; 0 when it never came up.
	Uptime time.Duration
}

// ExitPolicy decides, for each exit, what happens to the connection
// (etcp's handle_exit). It runs in the pool's actor, one exit at a time,
// so it needs no locks; it must not block, and must not call the pool's
// methods that wait (Add, AddN, Remove, Stop, sends with a wait).
type ExitPolicy func(Exit) Decision

// Always is the ExitPolicy that gives every exit the same decision:
// WithExitPolicy(Always(Delete())) is a pool whose connections are never
// restarted.
func Always(d Decision) ExitPolicy { return func(Exit) Decision { return d } }

// Backoff is the exponential backoff of [ActionBackoff]: the n-th exit in
// a row waits Initial × Multiplier^(n-1), at most Max, less a random
// part of up to Jitter of it (so many connections that fail together do
// not come back together).
type Backoff struct {
	// Initial is the first delay. Default 100 ms.
	Initial time.Duration
	// Max bounds every delay. Default 10 s.
	Max time.Duration
	// Multiplier grows the delay on each exit in a row; at least 1.
	// Default 2.
	Multiplier float64
	// Jitter is the fraction of a delay that is random, in [0, 1].
	// Default 0.2; negative means none.
	Jitter float64
	// ResetAfter: a connection up this long counts its next exit as its
	// first again. Default 30 s.
	ResetAfter time.Duration
}

// Defaults for [Backoff].
const (
	DefaultBackoffInitial    = 100 * time.Millisecond
	DefaultBackoffMax        = 10 * time.Second
	DefaultBackoffMultiplier = 2.0
	DefaultBackoffJitter     = 0.2
	DefaultBackoffResetAfter = 30 * time.Second
)

// DefaultBackoff returns the default [Backoff].
func DefaultBackoff() Backoff {
	return Backoff{Initial: DefaultBackoffInitial, Max: DefaultBackoffMax,
		Multiplier: DefaultBackoffMultiplier, Jitter: DefaultBackoffJitter,
		ResetAfter: DefaultBackoffResetAfter}
}

// withDefaults fills in zero fields and validates b.
func (b Backoff) withDefaults() (Backoff, error) {
	d := DefaultBackoff()
	if b.Initial == 0 {
		b.Initial = d.Initial
	}
	if b.Max == 0 {
		b.Max = max(d.Max, b.Initial)
	}
	if b.Multiplier == 0 {
		b.Multiplier = d.Multiplier
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = d.Jitter
	case b.Jitter < 0:
		b.Jitter = 0
	}
	if b.ResetAfter == 0 {
		b.ResetAfter = d.ResetAfter
	}
	switch {
	case b.Initial < 0 || b.Max < b.Initial:
		return b, fmt.Errorf("%w: Backoff needs 0 < Initial <= Max (got %v, %v)", ErrInvalidOptions, b.Initial, b.Max)
	case b.Multiplier < 1 || math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0):
		return b, fmt.Errorf("%w: Backoff.Multiplier %v is below 1", ErrInvalidOptions, b.Multiplier)
	case b.Jitter > 1 || math.IsNaN(b.Jitter):
		return b, fmt.Errorf("%w: Backoff.Jitter %v is above 1", ErrInvalidOptions, b.Jitter)
	case b.ResetAfter < 0:
		return b, fmt.Errorf("%w: Backoff.ResetAfter is negative", ErrInvalidOptions)
	}
	return b, nil
}

// Delay is the wait before the restart that follows the failures-th exit
// in a row (1 for the first), jitter included. b must hold validated
// values (as the pool's do).
func (b Backoff) Delay(failures int) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(max(failures, 1)-1))
	d = min(d, float64(b.Max))
	d -= d * b.Jitter * rand.Float64()
	return max(time.Duration(d), time.Millisecond)
}
