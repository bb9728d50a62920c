package faults_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// alarmSink collects an alarm's events.
type alarmSink chan server.AlarmEvent

func (ch alarmSink) fn(ev server.AlarmEvent) { ch <- ev }

func (ch alarmSink) next(t *testing.T) server.AlarmEvent {
	t.Helper()
	return testkit.Recv(t, ch)
}

// quiet requires no event for a while (an absence, checked over a
// window).
func (ch alarmSink) quiet(t *testing.T, what string) {
	t.Helper()
	require.Never(t, func() bool { return len(ch) > 0 }, 100*time.Millisecond, tick, what)
}

// Issue 19, modelled on ranch's misc_connection_alarms: threshold alarms
// on the connection count fire once the count reaches them (held for
// their For), by function or message, then keep quiet for their cooldown.
func TestConnectionAlarms(t *testing.T) {
	sys := testkit.NewSystem(t)
	two, three, held, again := make(alarmSink, 16), make(alarmSink, 16), make(alarmSink, 16), make(alarmSink, 64)
	long := make(alarmSink, 16)
	fwd := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*server.AlarmEvent); ok {
			three <- *ev
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(fwd).Wait() })
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p,
		server.WithAlarm(server.Alarm{Name: "two", Threshold: 2, Cooldown: time.Hour, Func: two.fn}),
		server.WithAlarm(server.Alarm{Name: "three", Threshold: 3, Cooldown: time.Hour, PID: fwd}),
		server.WithAlarm(server.Alarm{Name: "held", Threshold: 2, For: 20 * time.Millisecond, Cooldown: time.Hour, Func: held.fn}),
		server.WithAlarm(server.Alarm{Name: "long", Threshold: 2, For: time.Hour, Func: long.fn}),
		server.WithAlarm(server.Alarm{Name: "again", Threshold: 2, Cooldown: time.Nanosecond, Func: again.fn}))

	first := dialEchoers(t, srv.Addr().String(), 1)
	two.quiet(t, "under every threshold")
	second := dialEchoers(t, srv.Addr().String(), 1)
	ev := two.next(t)
	require.Equal(t, server.AlarmEvent{Server: srv.Name(), Alarm: "two", Active: 2, At: ev.At}, ev)
	require.Equal(t, 2, again.next(t).Active)
	require.Equal(t, "held", held.next(t).Alarm, "fires once held for its For")
	require.Empty(t, three)

	third := dialEchoers(t, srv.Addr().String(), 1)
	ev = testkit.Recv(t, three)
	require.Equal(t, "three", ev.Alarm)
	require.Equal(t, 3, ev.Active)
	two.quiet(t, "cooling down")
	require.Empty(t, held, "cooling down")
	require.Empty(t, long, "not held for its For")

	// Under the threshold and over it again: the alarm with no cooldown
	// fires again, the others keep quiet.
	second.check(t, 1)
	second[0].Close()
	third[0].Close()
	require.Eventually(t, func() bool { return srv.Info().Active == 1 }, testkit.Wait, tick)
	dropped := time.Now()
	dialEchoers(t, srv.Addr().String(), 1)
	for ev := again.next(t); !ev.At.After(dropped); ev = again.next(t) {
	}
	two.quiet(t, "cooling down")
	require.Empty(t, long)
	first.check(t, 1)
}

// An alarm that could not work fails Start.
func TestConnectionAlarmsValidated(t *testing.T) {
	sys := testkit.NewSystem(t)
	fn := func(server.AlarmEvent) {}
	for name, a := range map[string]server.Alarm{
		"no threshold":     {Name: "a", Func: fn},
		"negative for":     {Name: "a", Threshold: 1, For: -1, Func: fn},
		"no target":        {Name: "a", Threshold: 1},
		"func and message": {Name: "a", Threshold: 1, Func: fn, PID: actor.NewPID("x", "y")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := server.Start(sys, newHandler, newProbe(), "127.0.0.1:0", server.WithAlarm(a))
			require.ErrorIs(t, err, server.ErrInvalidOptions)
		})
	}
}
