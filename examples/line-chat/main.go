// Command line-chat is a chat server built from etcp connection actors:
// every line a client sends reaches every other client of the server.
//
//	go run ./examples/line-chat -addr 127.0.0.1:7001
//
// Its first line on stdout is "listening ADDR" with the bound address.
// The connections talk to each other through actors, never through shared
// state: each connection's Init registers its PID with a room actor, the
// room forwards each line to the other members' PIDs (their HandleInfo
// sends it on their socket), and a connection that ends is dropped from
// the room (the room watches every member's actor). A client
// is greeted with "welcome NAME (N here)"; the others see "* NAME joined",
// "NAME: line" and "* NAME left (N here)". It stops cleanly with exit
// status 0 on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// Messages between the room and the connections.
type (
	// join registers a member; the room watches it, and drops it when
	// its actor stops (after its Terminate).
	join struct {
		pid  *actor.PID
		name string
	}
	// say is a line a member sent, for the others.
	say struct {
		from *actor.PID
		line []byte
	}
	// deliver is a line for a member's socket.
	deliver struct{ line []byte }
	// closing (a request) tells the room the server is stopping: it
	// forwards nothing more, so no line goes to a connection on its way
	// out.
	closing struct{}
)

// room is the actor that knows the members. Only it touches members, so
// it needs no locks.
type room struct {
	members map[string]member // by PID id
	order   []string          // join order, so lines go out in a stable order
	closed  bool
}

type member struct {
	pid  *actor.PID
	name string
}

func newRoom() actor.Actor { return &room{members: map[string]member{}} }

func (r *room) Receive(ctx actor.Context) {
	if r.closed {
		return
	}
	switch m := ctx.Message().(type) {
	case *closing:
		r.closed = true
		ctx.Respond(m)
	case *join:
		r.members[m.pid.Id] = member{m.pid, m.name}
		r.order = append(r.order, m.pid.Id)
		ctx.Watch(m.pid)
		ctx.Send(m.pid, &deliver{fmt.Appendf(nil, "welcome %s (%d here)", m.name, len(r.members))})
		r.broadcast(ctx, m.pid, fmt.Appendf(nil, "* %s joined", m.name))
	case *say:
		if from, ok := r.members[m.from.Id]; ok {
			r.broadcast(ctx, m.from, fmt.Appendf(nil, "%s: %s", from.name, m.line))
		}
	case *actor.Terminated:
		r.drop(ctx, m.Who)
	}
}

// broadcast sends line to every member but from.
func (r *room) broadcast(ctx actor.Context, from *actor.PID, line []byte) {
	for _, id := range r.order {
		if id != from.Id {
			ctx.Send(r.members[id].pid, &deliver{line})
		}
	}
}

func (r *room) drop(ctx actor.Context, pid *actor.PID) {
	m, ok := r.members[pid.Id]
	if !ok {
		return
	}
	delete(r.members, pid.Id)
	r.order = slices.DeleteFunc(r.order, func(id string) bool { return id == pid.Id })
	r.broadcast(ctx, pid, fmt.Appendf(nil, "* %s left (%d here)", m.name, len(r.members)))
}

// chatter is one client's connection. Its init argument is the room.
type chatter struct {
	behaviours.Base
	room *actor.PID
}

func (h *chatter) Init(c behaviours.Conn, arg any) behaviours.Result {
	h.room = arg.(*actor.PID)
	c.Context().Send(h.room, &join{pid: c.Self(), name: "user" + strconv.FormatUint(c.ID(), 10)})
	return behaviours.Continue()
}

// HandlePacket hands a line to the room; p is only valid during the
// callback, so the room gets a copy.
func (h *chatter) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	c.Context().Send(h.room, &say{from: c.Self(), line: slices.Clone(p)})
	return behaviours.Continue()
}

// HandleInfo sends what the room delivers.
func (h *chatter) HandleInfo(_ behaviours.Conn, msg any) behaviours.Result {
	if d, ok := msg.(*deliver); ok {
		return behaviours.Send(d.line)
	}
	return behaviours.Continue()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "line-chat:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("line-chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7001", "address to listen on (port 0 = any free port)")
	maxLine := fs.Int("max-line", 4096, "longest line accepted, in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "protoactor")
	}))
	defer sys.Shutdown()

	roomPID := sys.Root.Spawn(actor.PropsFromProducer(newRoom))
	defer func() { _ = sys.Root.StopFuture(roomPID).Wait() }()

	srv, err := server.Start(sys, func() behaviours.Handler { return &chatter{} }, roomPID, *addr,
		actors.WithLogger(logger),
		actors.WithSocket(transport.WithFramer(transport.Line()), transport.WithMaxFrame(*maxLine)))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", srv.Addr())
	<-ctx.Done()
	if _, err := sys.Root.RequestFuture(roomPID, &closing{}, 5*time.Second).Result(); err != nil {
		logger.Warn("line-chat: closing the room", "err", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Stop(stopCtx, nil)
}
