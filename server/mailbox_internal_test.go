package server

import (
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// recorder tells what it receives, in order, and panics on "boom".
type recorder struct{ got chan<- string }

func (r *recorder) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.got <- "started"
	case *actor.Restarting:
		r.got <- "restarting"
	case string:
		if m == "boom" {
			panic("boom")
		}
		r.got <- m
	}
}

// TestConnsMailboxPanic: a panic in the actor suspends its mailbox until
// its supervisor has restarted it, as protoactor's own mailbox does: the
// messages queued behind the panic reach the restarted actor, in order.
func TestConnsMailboxPanic(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	defer sys.Shutdown()
	got := make(chan string, 16)
	restart := actor.NewOneForOneStrategy(10, time.Second, func(any) actor.Directive { return actor.RestartDirective })
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(string); ok {
			child := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return &recorder{got: got} },
				actor.WithDispatcher(connsDispatcher),
				actor.WithMailbox(func() actor.Mailbox { return &connsMailbox{c: &connsSup{}} })))
			for _, m := range []string{"a", "boom", "b", "c"} {
				ctx.Send(child, m)
			}
		}
	}, actor.WithSupervisor(restart)))
	sys.Root.Send(parent, "go")
	want := []string{"started", "a", "restarting", "started", "b", "c"}
	for i, w := range want {
		select {
		case g := <-got:
			if g != w {
				t.Fatalf("message %d: got %q, want %q", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d (%q) never came", i, w)
		}
	}
	if err := sys.Root.StopFuture(parent).Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		t.Fatalf("unexpected %q", g)
	default:
	}
}
