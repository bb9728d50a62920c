package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/test/testkit"
)

// TestSlowReaderPipeline: a client that pipelines 1,000,000 SETs as fast
// as it can while it reads the replies slowly gets every +OK, in order,
// and no reset; then a GET of the last key returns its value. The client
// reads nothing until its own sends stall (the replies have backed up
// into the server: the connection reads no more commands), then 16 KiB
// every 10 ms, so the connection stops and resumes reading whatever the
// server's speed (under -race it makes the replies slower than that
// pace). The server's peak heap is logged: the keyspace holds the
// million keys.
func TestSlowReaderPipeline(t *testing.T) {
	if testkit.EventLoop() {
		t.Skip("runs kv in both of its modes itself")
	}
	for name, loops := range map[string]string{"event-loop": "1", "goroutines": "0"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSlowReaderPipeline(t, loops)
		})
	}
}

func testSlowReaderPipeline(t *testing.T, loops string) {
	const (
		n      = 1_000_000
		batch  = 1000 // commands per write
		chunk  = 16 << 10
		period = 10 * time.Millisecond
		ok     = "+OK\r\n"
		total  = n * int64(len(ok))
		// The client's sends have stalled when a write has been blocked
		// this long.
		stalled = 200 * time.Millisecond
		holdMax = 5 * time.Second
	)
	ex := startKV(t, "-event-loops", loops, "-write-timeout", "1s")
	heap := testkit.SampleHeap(t, 200*time.Millisecond)
	nc, err := net.DialTimeout("tcp", ex.Addr, testkit.Wait)
	require.NoError(t, err)
	c := nc.(*net.TCPConn)
	defer c.Close()
	require.NoError(t, c.SetReadBuffer(64<<10))
	require.NoError(t, c.SetDeadline(time.Now().Add(120*time.Second)))
	began := time.Now()

	// The writer: SET key:i value:i, batch commands a write.
	var (
		sent    atomic.Int64 // commands written
		writing atomic.Int64 // when the write in progress began, ns since began + 1; 0: none
		werr    error
	)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		var b []byte
		for i := 0; i < n; {
			b = b[:0]
			for end := min(i+batch, n); i < end; i++ {
				s := strconv.Itoa(i)
				b = append(b, "*3\r\n$3\r\nSET\r\n$"...)
				b = strconv.AppendInt(b, int64(4+len(s)), 10)
				b = append(b, "\r\nkey:"...)
				b = append(b, s...)
				b = append(b, "\r\n$"...)
				b = strconv.AppendInt(b, int64(6+len(s)), 10)
				b = append(b, "\r\nvalue:"...)
				b = append(b, s...)
				b = append(b, "\r\n"...)
			}
			writing.Store(int64(time.Since(began)) + 1)
			_, err := c.Write(b)
			writing.Store(0)
			if err != nil {
				werr = fmt.Errorf("the client's write, after %d commands sent: %w", sent.Load(), err)
				return
			}
			sent.Store(int64(i))
		}
	}()
	defer func() {
		c.Close() // ends the writer if the reader failed
		<-wdone
	}()
	blocked := func() time.Duration {
		if w := writing.Load(); w != 0 {
			return time.Since(began) - time.Duration(w-1)
		}
		return 0
	}

	// The reader, on this goroutine: nothing until the writer stalls (or
	// is done, or for holdMax at most), then chunk bytes every period, on a
	// fixed schedule (with no catching up after a late read).
	hold := time.NewTicker(5 * time.Millisecond)
	for held := true; held; {
		select {
		case <-wdone:
			held = false
		case <-hold.C:
			held = blocked() < stalled && time.Since(began) < holdMax
		}
	}
	hold.Stop()
	t.Logf("reading from %v in: %d commands sent, the client's write blocked for %v",
		time.Since(began).Round(time.Millisecond), sent.Load(), blocked().Round(time.Millisecond))
	pattern := bytes.Repeat([]byte(ok), chunk/len(ok)+2)
	buf := make([]byte, chunk)
	var got int64
	next := time.Now()
	for got < total {
		m, err := io.ReadFull(c, buf[:min(int64(chunk), total-got)])
		off := int(got % int64(len(ok)))
		if !bytes.Equal(buf[:m], pattern[off:off+m]) {
			i := 0
			for buf[i] == pattern[off+i] {
				i++
			}
			require.Failf(t, "not +OK", "reply %d: %q", (got+int64(i))/int64(len(ok)), buf[i:min(m, i+64)])
		}
		got += int64(m)
		if err != nil {
			require.NoError(t, err, "after %d of %d replies (%v in; %d commands sent); the server logged:\n%s",
				got/int64(len(ok)), n, time.Since(began).Round(time.Millisecond), sent.Load(), ex.Stderr.String())
		}
		next = next.Add(period)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else {
			next = time.Now()
		}
	}
	took := time.Since(began)
	testkit.Recv(t, wdone)
	require.NoError(t, werr)

	// Every SET took effect: the last one's value is there.
	last := strconv.Itoa(n - 1)
	want := "$" + strconv.Itoa(len("value:"+last)) + "\r\nvalue:" + last + "\r\n"
	reply, err := exchange(c, req("GET", "key:"+last), len(want))
	require.NoError(t, err)
	require.Equal(t, want, reply)
	peak, samples := heap.Stop()
	t.Logf("%d SETs pipelined, their replies read %d KiB every %v, in %v; peak heap in use %.1f MiB (the process's, %d samples)",
		n, chunk>>10, period, took.Round(time.Millisecond), float64(peak)/(1<<20), samples)
}
