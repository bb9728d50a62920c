package behaviours_test

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"

	"github.com/etcp-go/etcp/behaviours"
)

// res makes a Result addressable, for its accessors.
func res(r behaviours.Result) *behaviours.Result { return &r }

func packets(r behaviours.Result) []string {
	var out []string
	_ = r.Packets(func(p []byte) error { out = append(out, string(p)); return nil })
	return out
}

func TestContinueAsksForNothing(t *testing.T) {
	r := behaviours.Continue()
	assert.False(t, r.HasPackets())
	_, ok := r.ReplyValue()
	assert.False(t, ok)
	_, ok = r.TimeoutValue()
	assert.False(t, ok)
	_, ok = r.StopReason()
	assert.False(t, ok)
	_, _, ok = r.RecvRequest()
	assert.False(t, ok)
	_, _, ok = r.ModeChange()
	assert.False(t, ok)
	_, ok = r.TLSUpgrade()
	assert.False(t, ok)
	assert.False(t, r.Closing() || r.Hibernating() || r.Declined())
}

func TestSendKeepsOrder(t *testing.T) {
	r := behaviours.Send([]byte("a")).Send([]byte("b")).Send([]byte("c"))
	assert.True(t, r.HasPackets())
	assert.Equal(t, []string{"a", "b", "c"}, packets(r))

	// The results are values: extending one leaves the other unchanged.
	base := behaviours.Send([]byte("x"))
	more := base.Send([]byte("y"))
	assert.Equal(t, []string{"x"}, packets(base))
	assert.Equal(t, []string{"x", "y"}, packets(more))

	// An empty packet still counts.
	assert.True(t, res(behaviours.Send([]byte{})).HasPackets())
}

func TestPacketsStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := res(behaviours.Send([]byte("a")).Send([]byte("b"))).Packets(func([]byte) error { n++; return boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, n)
}

func TestCombinedActions(t *testing.T) {
	stop := errors.New("stop")
	cfg := &tls.Config{}
	from := behaviours.NewFrom(actor.NewPID("nonhost", "caller"))
	r := behaviours.Reply(1).ReplyTo(from, 2).Timeout(time.Second).Hibernate().Close().Stop(stop).
		Recv(4, time.Millisecond).StartTLS(cfg)

	v, ok := r.ReplyValue()
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	var deferred []any
	r.DeferredReplies(func(to *actor.PID, v any) {
		assert.Equal(t, from.PID(), to)
		deferred = append(deferred, v)
	})
	assert.Equal(t, []any{2}, deferred)
	d, ok := r.TimeoutValue()
	assert.True(t, ok)
	assert.Equal(t, time.Second, d)
	assert.True(t, r.Hibernating())
	assert.True(t, r.Closing())
	reason, ok := r.StopReason()
	assert.True(t, ok)
	assert.Equal(t, stop, reason)
	n, to, ok := r.RecvRequest()
	assert.True(t, ok)
	assert.Equal(t, 4, n)
	assert.Equal(t, time.Millisecond, to)
	got, ok := r.TLSUpgrade()
	assert.True(t, ok)
	assert.Same(t, cfg, got)
}

func TestStopNilIsAStop(t *testing.T) {
	reason, ok := res(behaviours.Stop(nil)).StopReason()
	assert.True(t, ok)
	assert.NoError(t, reason)
}

func TestTimeoutNeverAndZero(t *testing.T) {
	d, ok := res(behaviours.Timeout(behaviours.Never)).TimeoutValue()
	assert.True(t, ok)
	assert.Negative(t, d)
	d, ok = res(behaviours.Timeout(0)).TimeoutValue()
	assert.True(t, ok, "Timeout(0) is a timeout, not the absence of one")
	assert.Zero(t, d)
}

func TestModeChangeLastWins(t *testing.T) {
	active, n, ok := res(behaviours.Continue().Active(3)).ModeChange()
	assert.True(t, ok)
	assert.True(t, active)
	assert.Equal(t, 3, n)

	active, _, ok = res(behaviours.Continue().Active(3).Passive()).ModeChange()
	assert.True(t, ok)
	assert.False(t, active)

	active, n, ok = res(behaviours.Continue().Passive().Active(0)).ModeChange()
	assert.True(t, ok)
	assert.True(t, active)
	assert.Zero(t, n)
}

func TestDecline(t *testing.T) {
	assert.True(t, res(behaviours.Decline()).Declined())
	assert.False(t, res(behaviours.Close()).Declined())
}

func TestFrom(t *testing.T) {
	assert.False(t, behaviours.From{}.Valid())
	pid := actor.NewPID("nonhost", "x")
	f := behaviours.NewFrom(pid)
	assert.True(t, f.Valid())
	assert.Same(t, pid, f.PID())
}

func TestBaseDefaults(t *testing.T) {
	var h behaviours.Handler = behaviours.Base{}
	assert.Equal(t, behaviours.Continue(), h.Init(nil, nil))
	assert.Equal(t, behaviours.Continue(), h.HandlePacket(nil, []byte("x")))
	assert.Equal(t, behaviours.Continue(), h.HandleCast(nil, 1))
	assert.Equal(t, behaviours.Continue(), h.HandleEvent(nil, 1))
	assert.Equal(t, behaviours.Continue(), h.HandleInfo(nil, 1))
	assert.Equal(t, behaviours.Continue(), h.HandleDisconnect(nil))
	assert.Equal(t, behaviours.Continue(), h.Timeout(nil))

	v, ok := res(h.HandleCall(nil, 42, behaviours.From{})).ReplyValue()
	assert.True(t, ok)
	assert.ErrorIs(t, v.(error), behaviours.ErrUnhandledCall)
	assert.Contains(t, v.(error).Error(), "int")

	reason, ok := res(h.SocketReadTimeout(nil)).StopReason()
	assert.True(t, ok)
	assert.ErrorIs(t, reason, behaviours.ErrReadTimeout)

	boom := errors.New("boom")
	assert.Equal(t, boom, h.Terminate(nil, boom))
	nh, err := h.CodeChange(nil, "1", nil)
	assert.Nil(t, nh)
	assert.NoError(t, err)
}
