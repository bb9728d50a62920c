package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A read released to half-closed (the peer's FIN under WithHalfClose)
// ends its reader, whether the actor ran inline or the reader waited,
// and leaves the read side to the actor for good: no reader starts
// again, and the end takes the socket from there.
func TestReleasedToHalfClosedEndsTheReader(t *testing.T) {
	c, _, _ := testConn(t)
	st := &c.proc.st
	for _, wait := range []bool{false, true} {
		st.v.Store(uint32(stReading))
		require.True(t, c.posted())
		gen := c.readerGen.Load() // the generation this read belongs to
		next := make(chan state, 1)
		if wait { // the read was queued: the reader sleeps until released
			go func() { next <- c.awaitRelease(gen) }()
			require.Eventually(t, func() bool { return st.load() == stWaiting }, time.Second, time.Millisecond)
		}
		c.releaseRead(stHalfClosed)
		if !wait {
			next <- c.awaitRelease(gen) // the actor ran inline
		}
		require.Equal(t, stIdle, <-next, "the reader ends")
		require.Equal(t, stHalfClosed, st.load())
		c.startReading()
		require.Equal(t, stHalfClosed, st.load(), "nothing reads a half-closed connection again")
	}
	c.closeRead()
	require.Equal(t, stClosed, st.load())
}
