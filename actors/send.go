package actors

import (
	"github.com/asynkron/protoactor-go/actor"
)

// tell sends msg to the actor that hears of the connection, if any.
func (c *conn) tell(msg any) {
	if c.notify != nil {
		c.ctx.Send(c.notify, msg)
	}
}

// ack answers a request (when it has a sender) with a *Reply.
func (c *conn) ack(v any) {
	if s := c.ctx.Sender(); s != nil {
		c.sendReply(s, v)
	}
}

func (c *conn) sendReply(to *actor.PID, v any) {
	if c.tracer != nil {
		c.trace(TraceEvent{Kind: TraceReplyOut, Message: v})
	}
	if remote(c.ctx.ActorSystem(), to) {
		c.ctx.Send(to, replyToWire(v))
		return
	}
	c.ctx.Send(to, newReply(v))
}
