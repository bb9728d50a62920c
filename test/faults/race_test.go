package faults_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

const (
	raceConns  = 1000
	raceRounds = 10
	raceIdle   = 200 * time.Millisecond
)

// The fault suite's race: on 1,000 connections, peers reset, go silent
// (the idle timeout ends them), ask their handler to close, or just echo,
// each at a random moment, while the server is stopped at a random moment
// too; ten rounds, a fresh server each. Every Terminate runs exactly once,
// Stop returns promptly, every acknowledged SendSync arrives, and nothing
// is left behind.
func TestFaultRace(t *testing.T) {
	sys := testkit.NewSystem(t)
	g0, fd0, rss0 := runtime.NumGoroutine(), fds(t), rssKB(t)
	var faults, conns int
	var acked, delivered int64
	for round := range raceRounds {
		f, a, d := raceRound(t, sys, round)
		faults, conns, acked, delivered = faults+f, conns+raceConns, acked+a, delivered+d
	}
	g1, _ := awaitBaseline(t, g0, fd0)
	summary{name: "race-1000", faults: faults, conns: conns, acked: acked, delivered: delivered,
		goroutines0: g0, goroutines1: g1, rss0: rss0, rss1: rssKB(t)}.report(t)
}

func raceRound(t *testing.T, sys *actor.ActorSystem, round int) (faults int, acked, delivered int64) {
	rng := rand.New(rand.NewPCG(uint64(round), 7))
	p := echoHooks(newProbe())
	srv, err := server.Start(sys, newHandler, p, "127.0.0.1:0", testkit.Mode(actors.WithLogger(testkit.Discard),
		actors.WithSocket(transport.WithFramer(transport.Length(4))), actors.WithIdleTimeout(raceIdle),
		server.WithMaxConnections(server.NoLimit), server.WithName(fmt.Sprintf("race-%d", round)))...)
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Stop(testkit.Ctx(t), nil)) }()

	// Each peer's behaviour starts as it connects; the stop comes at a
	// random moment after the last has connected.
	var wg sync.WaitGroup
	var echoers []*framedPeer
	var resets, silent, closes atomic.Int64
	conns := make([]net.Conn, raceConns)
	at := func() time.Duration { return time.Duration(rng.Int64N(int64(250 * time.Millisecond))) }
	for i := range conns {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		conns[i] = c
		when := time.Now().Add(at())
		switch i % 4 {
		case 0: // the peer resets
			resets.Add(1)
			wg.Go(func() {
				time.Sleep(time.Until(when)) // a random moment
				abort(c.(*net.TCPConn))
			})
		case 1: // the peer goes silent: the idle timeout, or the stop, ends it
			silent.Add(1)
			wg.Go(func() {
				_, err := io.Copy(io.Discard, c)
				if isTimeout(err) {
					t.Errorf("silent peer %d never ended", i)
				}
			})
		case 2: // the handler closes
			closes.Add(1)
			wg.Go(func() {
				time.Sleep(time.Until(when))
				if _, err := c.Write(frame([]byte("close"))); err != nil {
					return // ended first
				}
				rest, err := io.ReadAll(c)
				switch {
				case isTimeout(err):
					t.Errorf("closing peer %d never ended", i)
				case err == nil && len(rest) > 0 && !bytes.Equal(rest, frame([]byte("close"))):
					t.Errorf("closing peer %d: %q", i, rest)
				}
			})
		case 3: // the peer echoes until the end
			fp := startPeer(c)
			echoers = append(echoers, fp)
			wg.Go(func() {
				for seq := uint64(1); ; seq++ {
					if err := fp.echo(1+int(seq%300), uint64(i)<<32|seq); err != nil {
						return
					}
					time.Sleep(20 * time.Millisecond) // the peer's pace
				}
			})
		}
	}
	require.Eventually(t, func() bool { return srv.Info().Accepted == raceConns }, testkit.Wait, tick)
	start := time.Now()
	// The echoers' connections: accepted ones may still be starting; one
	// starved of CPU long enough may have met its idle timeout already
	// (its reader has then ended): it gets no SendSync.
	echoPIDs := make([]*actor.PID, len(echoers))
	require.Eventually(t, func() bool {
		byPeer := map[string]*actor.PID{}
		for _, ci := range testkit.Conns(t, srv) {
			if ci.Peer != nil {
				byPeer[ci.Peer.String()] = ci.PID
			}
		}
		for i, fp := range echoers {
			if echoPIDs[i] = byPeer[fp.c.LocalAddr().String()]; echoPIDs[i] == nil {
				select {
				case <-fp.done:
				default:
					return false
				}
			}
		}
		return true
	}, testkit.Wait, 5*time.Millisecond, "every echoer is up")
	ackedBy := make([][]string, len(echoers))
	stopped := make(chan struct{})
	wg.Go(func() { // SendSyncs to the echoers, racing with everything
		rng := rand.New(rand.NewPCG(uint64(round), 8))
		for n := 0; ; n++ {
			select {
			case <-stopped:
				return
			default:
			}
			i := rng.IntN(len(echoers))
			if echoPIDs[i] == nil {
				continue
			}
			msg := fmt.Sprintf("ss:%d:%d", i, n)
			if client.SendSync(testkit.Ctx(t), sys.Root, echoPIDs[i], []byte(msg)) == nil {
				ackedBy[i] = append(ackedBy[i], msg)
			}
		}
	})

	time.Sleep(at()) // the stop's random moment
	var stopErr error
	took := within(func() { stopErr = srv.Stop(testkit.Ctx(t), nil) })
	require.NoError(t, stopErr)
	require.Less(t, took, server.DefaultStopGrace+stopSlack, "round %d: Stop took %v", round, took)
	close(stopped)
	wg.Wait()

	p.requireOnce(t, int(p.nInit.Load()))
	require.EqualValues(t, raceConns, p.nInit.Load())
	info := srv.Info()
	require.EqualValues(t, raceConns, info.Accepted)
	require.EqualValues(t, raceConns, info.Terminated)
	require.Zero(t, info.Active)
	for i, fp := range echoers {
		fp.c.Close()
		<-fp.done
		require.NoError(t, fp.check(), "echoer %d", i)
		acked += int64(len(ackedBy[i]))
		fp.mu.Lock()
		for _, a := range ackedBy[i] {
			if fp.pushed[a] {
				delivered++
			}
		}
		fp.mu.Unlock()
	}
	require.Equal(t, acked, delivered, "round %d: every acknowledged SendSync was delivered", round)
	for _, c := range conns {
		c.Close()
	}
	idled := p.reasonsMatching(actors.ErrIdleTimeout)
	t.Logf("round %d: stop after %v took %v; %d idle timeouts, %d SendSyncs acknowledged", round,
		time.Since(start).Truncate(time.Millisecond), took.Truncate(time.Millisecond), idled, acked)
	return int(resets.Load()+silent.Load()+closes.Load()) + 1, acked, delivered
}
