package mailbox

import (
	"log/slog"
	"slices"
	"sync"
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

// TestMailboxPanic: a panic in the actor suspends its mailbox until
// its supervisor has restarted it, as protoactor's own mailbox does: the
// messages queued behind the panic reach the restarted actor, in order.
func TestMailboxPanic(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	defer sys.Shutdown()
	got := make(chan string, 16)
	restart := actor.NewOneForOneStrategy(10, time.Second, func(any) actor.Directive { return actor.RestartDirective })
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(string); ok {
			child := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return &recorder{got: got} },
				actor.WithDispatcher(actor.NewSynchronizedDispatcher(300)),
				actor.WithMailbox(func() actor.Mailbox { return New(Hooks{}) })))
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

// TestMailboxHooks: Posted hears every message posted, system ones
// included, and what Take takes never reaches the actor.
func TestMailboxHooks(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }))
	defer sys.Shutdown()
	got := make(chan string, 16)
	var mu sync.Mutex
	var posted []string
	hooks := Hooks{
		Posted: func(msg any, system bool) {
			mu.Lock()
			defer mu.Unlock()
			if s, ok := msg.(string); ok && !system {
				posted = append(posted, s)
			} else if _, ok := msg.(*actor.Stop); ok && system {
				posted = append(posted, "stop") // the poison pill's
			}
		},
		Take: func(msg any) bool { return msg == "taken" },
	}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &recorder{got: got} },
		actor.WithMailbox(func() actor.Mailbox { return New(hooks) })))
	for _, m := range []string{"a", "taken", "b"} {
		sys.Root.Send(pid, m)
	}
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil { // behind the messages
		t.Fatal(err)
	}
	close(got)
	var seen []string
	for g := range got {
		seen = append(seen, g)
	}
	if want := []string{"started", "a", "b"}; !slices.Equal(seen, want) {
		t.Fatalf("the actor saw %q, want %q", seen, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"a", "taken", "b", "stop"}; !slices.Equal(posted, want) {
		t.Fatalf("Posted heard %q, want %q", posted, want)
	}
}
