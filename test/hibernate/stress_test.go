package hibernate_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// stressed counts what reaches it. A line is answered "<lines> <casts>";
// the line "hib" and the cast "hib" also hibernate; casts "outside" are
// counted apart; a call answers [lines, casts] and hibernates.
// Terminate reports to ended.
type stressed struct {
	behaviours.Base
	lines, casts, outside int
	ended                 chan<- error
}

func (s *stressed) Init(_ behaviours.Conn, arg any) behaviours.Result {
	s.ended = arg.(chan error)
	return behaviours.Continue()
}

func (s *stressed) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	s.lines++
	r := behaviours.Send([]byte(fmt.Sprintf("%d %d", s.lines, s.casts)))
	if string(p) == "hib" {
		r = r.Hibernate()
	}
	return r
}

func (s *stressed) HandleCast(_ behaviours.Conn, m any) behaviours.Result {
	switch m {
	case "outside":
		s.outside++
	case "hib":
		s.casts++
		return behaviours.Hibernate()
	default:
		s.casts++
	}
	return behaviours.Continue()
}

func (s *stressed) HandleCall(behaviours.Conn, any, behaviours.From) behaviours.Result {
	return behaviours.Reply([2]int{s.lines, s.casts}).Hibernate()
}

func (s *stressed) Terminate(_ behaviours.Conn, reason error) error {
	s.ended <- reason
	return reason
}

// stressDuration is how long the stress test drives its connections.
const stressDuration = 3 * time.Second

// Hibernation, wakes, parking, casts, calls and closes race on many
// connections for several seconds: every line is answered in order,
// every cast and line is counted exactly once, every connection ends
// with one Terminate, and the server's counts return to zero.
func TestStressStateMachine(t *testing.T) {
	const workers = 60
	sys := testkit.NewSystem(t)
	ended := make(chan error, 100000)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &stressed{} }, ended,
		server.WithAcceptors(4), actors.WithParkAfter(time.Millisecond), actors.WithSocket(lineFraming))
	ctx := testkit.Ctx(t)
	var opened, closedNormally atomic.Int64
	stop := time.Now().Add(stressDuration)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(stop) {
				if !stressOne(t, sys, srv, rng, stop) {
					return
				}
				opened.Add(1)
				closedNormally.Add(1)
			}
		})
	}
	// Casts and calls from outside, at connections picked at random.
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(7, 7))
		for time.Now().Before(stop) {
			conns := testkit.Conns(t, srv)
			if len(conns) == 0 {
				continue
			}
			pid := conns[rng.IntN(len(conns))].PID
			if rng.IntN(2) == 0 {
				client.Cast(sys.Root, pid, "outside") // counted, unchecked: the worker's tally comes first
			} else if _, err := client.Call(ctx, sys.Root, pid, "tally"); err != nil {
				assert.ErrorIs(t, err, actors.ErrClosed, "a call fails only on an ended connection")
			}
		}
	})
	wg.Wait()
	require.False(t, t.Failed())
	for range opened.Load() {
		require.NoError(t, testkit.Recv(t, ended), "every connection ends normally, once")
	}
	testkit.RequireEmpty(t, ended)
	require.Eventually(t, func() bool { return srv.Info().Conns == actors.Stats{} }, testkit.Wait, time.Millisecond,
		"counts back to zero: %+v", srv.Info().Conns)
	t.Logf("%d connections", opened.Load())
}

// stressOne drives one connection until a random end (or stop): lines,
// hibernating lines, casts (some hibernating), pauses long enough to
// park, and calls that check the tally exactly. It reports false if it
// failed.
func stressOne(t *testing.T, sys *actor.ActorSystem, srv *server.Server, rng *rand.Rand, stop time.Time) bool {
	c, err := net.DialTimeout("tcp", srv.Addr().String(), testkit.Wait)
	if !assert.NoError(t, err) {
		return false
	}
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(stressDuration+testkit.Wait)))
	r := bufio.NewReader(c)
	pid := pidOf(t, srv, c.LocalAddr().String())
	if pid == nil {
		return false
	}
	ctx := testkit.Ctx(t)
	lines, casts := 0, 0
	tally := func() bool {
		got, err := client.Call(ctx, sys.Root, pid, "tally")
		return assert.NoError(t, err) && assert.Equal(t, [2]int{lines, casts}, got, "every line and cast counted once")
	}
	for ops := 10 + rng.IntN(200); ops > 0 && time.Now().Before(stop); ops-- {
		switch op := rng.IntN(14); {
		case op >= 12: // casts, some hibernating, then a call that checks them
			for range 1 + rng.IntN(4) {
				m := "c"
				if rng.IntN(2) == 0 {
					m = "hib"
				}
				client.Cast(sys.Root, pid, m)
				casts++
			}
			if !tally() {
				return false
			}
		case op == 11: // a call alone (it hibernates the connection)
			if !tally() {
				return false
			}
		case op < 5: // a line, sometimes one that hibernates
			msg := "x"
			if op == 0 {
				msg = "hib"
			}
			if _, err := fmt.Fprintf(c, "%s\n", msg); !assert.NoError(t, err) {
				return false
			}
			lines++
			got, err := r.ReadString('\n')
			if !assert.NoError(t, err) {
				return false
			}
			n, _, _ := strings.Cut(strings.TrimSpace(got), " ")
			if !assert.Equal(t, strconv.Itoa(lines), n, "lines answered in order, each once") {
				return false
			}
		case op < 7: // idle long enough for the reader to park
			time.Sleep(time.Duration(1+rng.IntN(3)) * time.Millisecond)
		default: // a burst of lines without reading, then all the answers
			burst := 1 + rng.IntN(5)
			for range burst {
				if _, err := c.Write([]byte("b\n")); !assert.NoError(t, err) {
					return false
				}
			}
			for range burst {
				lines++
				got, err := r.ReadString('\n')
				if !assert.NoError(t, err) {
					return false
				}
				n, _, _ := strings.Cut(strings.TrimSpace(got), " ")
				if !assert.Equal(t, strconv.Itoa(lines), n) {
					return false
				}
			}
		}
	}
	if !tally() {
		return false
	}
	return assert.NoError(t, c.Close())
}

// pidOf waits for the connection whose peer is addr to be listed.
func pidOf(t *testing.T, srv *server.Server, addr string) *actor.PID {
	var pid *actor.PID
	assert.Eventually(t, func() bool {
		for _, info := range testkit.Conns(t, srv) {
			if info.Peer != nil && info.Peer.String() == addr {
				pid = info.PID
				return true
			}
		}
		return false
	}, testkit.Wait, time.Millisecond, "connection from %s listed", addr)
	return pid
}
