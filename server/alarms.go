package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/host"
)

// DefaultAlarmCooldown is how long an [Alarm] stays quiet after it fired,
// unless told otherwise: ranch's default cooldown.
const DefaultAlarmCooldown = 5 * time.Second

// Alarm is a threshold alarm on a server's connection count (ranch's
// num_connections alarms): it fires once the count of live connections
// ([Info].Active) has been at least Threshold for For, then stays quiet
// for Cooldown; after that, the next change of the count that finds it
// at or over Threshold arms it again.
type Alarm struct {
	// Name names the alarm in its events.
	Name string
	// Threshold is the count that raises it; at least 1.
	Threshold int
	// For is how long the count must stay at or over Threshold before it
	// fires. Default: it fires at once.
	For time.Duration
	// Cooldown is how long it stays quiet after it fired. Default
	// [DefaultAlarmCooldown].
	Cooldown time.Duration
	// Func, if set, is called with each event, in a goroutine of its own
	// (a timer's): it may block, but should not for long.
	Func func(AlarmEvent)
	// PID, if set, is sent each event as an *AlarmEvent. Set Func or PID,
	// not both.
	PID *actor.PID
}

// AlarmEvent is an [Alarm] firing.
type AlarmEvent struct {
	Server string    // the server's name
	Alarm  string    // the alarm's Name
	Active int       // live connections when it fired
	At     time.Time // when it fired
}

// WithAlarm adds a threshold alarm on the connection count; several may
// be given. Start validates it.
func WithAlarm(a Alarm) Option {
	return host.OwnOption("server.WithAlarm", func(o *config) { o.Alarms = append(o.Alarms, a) })
}

// validate checks a and fills in its defaults.
func (a *Alarm) validate() error {
	switch {
	case a.Threshold < 1:
		return fmt.Errorf("%w: alarm %q: Threshold %d is not positive", ErrInvalidOptions, a.Name, a.Threshold)
	case a.For < 0 || a.Cooldown < 0:
		return fmt.Errorf("%w: alarm %q: For or Cooldown is negative", ErrInvalidOptions, a.Name)
	case (a.Func == nil) == (a.PID == nil):
		return fmt.Errorf("%w: alarm %q: set Func or PID, one of them", ErrInvalidOptions, a.Name)
	}
	a.Cooldown = orDefault(a.Cooldown, DefaultAlarmCooldown)
	return nil
}

// An alarm's state, one word (alarm.st) changed under alarm.mu:
//
//	idle    -> pending  the count changed and is at or over the threshold (For timer started)
//	pending -> idle     the count changed and is under the threshold (timer stopped)
//	pending -> cooling  the For timer ran out, the count still over: it fires (cooldown timer started)
//	cooling -> idle     the cooldown ran out
//	any     -> off      the server stopped (timers stopped); final
//
// The count's changes read the word without the lock and take it only
// for a transition, so an alarm costs the accept path one atomic load
// while nothing changes.
const (
	alarmIdle int32 = iota
	alarmPending
	alarmCooling
	alarmOff
)

// alarm is one Alarm of a running server.
type alarm struct {
	Alarm
	s     *Server
	st    atomic.Int32
	mu    sync.Mutex
	timer *time.Timer // the For or cooldown timer of the state; nil in idle and off
	gen   uint64      // counts the timers started: a timer whose Stop came too late is not the current one
}

// startLocked starts the state's timer, to run f with its generation.
func (a *alarm) startLocked(d time.Duration, f func(gen uint64)) {
	a.gen++
	gen := a.gen
	a.timer = time.AfterFunc(d, func() { f(gen) })
}

// countChanged moves the alarm on a change of the count to n.
func (a *alarm) countChanged(n int) {
	over := n >= a.Threshold
	switch a.st.Load() {
	case alarmIdle:
		if !over {
			return
		}
	case alarmPending:
		if over {
			return
		}
	default:
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch st := a.st.Load(); {
	case st == alarmIdle && over:
		a.st.Store(alarmPending)
		a.startLocked(a.For, a.ripe)
	case st == alarmPending && !over:
		a.timer.Stop()
		a.timer = nil
		a.st.Store(alarmIdle)
	}
}

// ripe runs when the For timer ran out: the alarm fires if the count is
// still at or over the threshold.
func (a *alarm) ripe(gen uint64) {
	a.mu.Lock()
	if a.st.Load() != alarmPending || gen != a.gen {
		a.mu.Unlock()
		return // stopped, or back under (the timer's Stop came too late)
	}
	n := a.s.active()
	if n < a.Threshold {
		a.st.Store(alarmIdle)
		a.timer = nil
		a.mu.Unlock()
		return
	}
	a.st.Store(alarmCooling)
	a.startLocked(a.Cooldown, a.cooled)
	a.mu.Unlock()
	ev := AlarmEvent{Server: a.s.name, Alarm: a.Name, Active: n, At: time.Now()}
	if a.Func != nil {
		a.Func(ev)
	} else {
		a.s.sys.Root.Send(a.PID, &ev)
	}
}

// cooled runs when the cooldown ran out.
func (a *alarm) cooled(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st.Load() == alarmCooling && gen == a.gen {
		a.st.Store(alarmIdle)
		a.timer = nil
	}
}

// off stops the alarm for good, as the server stops.
func (a *alarm) off() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.Store(alarmOff)
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}
