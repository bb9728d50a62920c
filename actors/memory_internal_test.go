package actors

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// The records a connection holds for its whole life (process), while it is
// awake (conn) and while it is passivated (sleepRecord) stay within the
// sizes the README's memory table accounts for; growing one is a decision
// to take on purpose, with the table updated
// (go test -run='^$' -bench=Memory -benchtime=1x ./test/memory).
func TestRecordSizes(t *testing.T) {
	t.Logf("process %d B, conn %d B, sleepRecord %d B, counters %d B",
		unsafe.Sizeof(process{}), unsafe.Sizeof(conn{}), unsafe.Sizeof(sleepRecord{}), unsafe.Sizeof(counters{}))
	assert.LessOrEqual(t, unsafe.Sizeof(process{}), uintptr(144))
	assert.LessOrEqual(t, unsafe.Sizeof(conn{}), uintptr(576))
	assert.LessOrEqual(t, unsafe.Sizeof(sleepRecord{}), uintptr(128))
}
