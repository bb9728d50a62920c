package server

import (
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/host"
)

// connsSup is a connection supervisor: the parent of its share of the
// connections (ranch's ranch_conns_sup; see Server.handOff), so that no
// acceptor's fate is theirs and stopping one supervisor ends only its
// share. It runs on a synchronous dispatcher: an acceptor's handoff
// runs right in the acceptor's goroutine when the supervisor is idle, so
// the extra actor costs no goroutine hop per connection.
type connsSup struct {
	s        *Server
	spawn    host.Spawner // made at the first hand-off
	stopping bool         // it is stopping: what is handed to it now is stopped as it starts
	stopped  bool         // it has stopped: what is handed to it now is refused
}

// props returns the connection supervisor's Props. Its mailbox refuses
// the sockets handed over once it has stopped (see refuseLate).
func (c *connsSup) props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return c },
		actor.WithDispatcher(connsDispatcher), actor.WithSupervisor(connSupervision),
		actor.WithMailbox(host.NewMailbox(host.MailboxHooks{Take: c.refuseLate})))
}

// refuseLate refuses a socket that reaches the supervisor once it has
// stopped: protoactor drops, unseen, what reaches a stopped actor, and a
// socket there would never be closed, nor its slot given back.
func (c *connsSup) refuseLate(msg any) bool {
	h, ok := msg.(*handoff)
	if !ok || !c.stopped {
		return false
	}
	c.s.refuse(h.sock)
	h.recycle()
	return true
}

// connSupervision stops a connection that failed outside its callbacks
// (which catch their own panics): a restart could not bring its socket
// back.
var connSupervision = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

// connsDispatcher runs a connection supervisor in its sender's goroutine.
var connsDispatcher = actor.NewSynchronizedDispatcher(300)

func (c *connsSup) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *handoff:
		sock, id := m.sock, m.id
		m.recycle()
		var buf [24]byte // "c" and the id: built in one allocation, the name's
		name := string(strconv.AppendUint(append(buf[:0], 'c'), id, 10))
		if c.spawn == nil {
			c.spawn = host.NewSpawner(c.s.conns)
		}
		pid, err := c.spawn.Spawn(ctx, name, id, sock, true, nil)
		switch {
		case err != nil:
			c.s.log.Error("etcp: spawning a connection failed", "err", err)
		case c.stopping:
			// protoactor still runs user messages while an actor stops, but
			// it has stopped its children already: this one would be a
			// child nobody stops, which the supervisor would wait for.
			ctx.Stop(pid)
		}
	case *actor.Stopping:
		c.stopping = true
	case *actor.Stopped:
		c.stopped = true
	case *actor.Started, *actor.Restarting, *actor.Terminated:
	default:
		stray(c.s, ctx, "connection supervisor")
	}
}
