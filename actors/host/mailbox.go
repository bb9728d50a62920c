package host

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/mailbox"
)

// MailboxHooks adapt the mailbox of a hosting actor (NewMailbox). Either
// may be nil.
type MailboxHooks struct {
	// Posted runs in the poster's goroutine once msg is queued and the
	// mailbox scheduled.
	Posted func(msg any, system bool)
	// Take sees each user message before the actor would, in the
	// mailbox's turn; if it returns true it has disposed of the message,
	// which the actor never sees.
	Take func(msg any) bool
}

// NewMailbox returns mailboxes for a hosting actor (a supervisor, an
// acceptor): protoactor's default mailbox in behaviour (system messages
// first, suspend and resume, one goroutine at a time, a panic escalated
// to the supervisor), on the queue of the connections' own mailbox, which
// allocates nothing per message, plus h.
func NewMailbox(h MailboxHooks) actor.MailboxProducer {
	return func() actor.Mailbox { return mailbox.New(mailbox.Hooks(h)) }
}
