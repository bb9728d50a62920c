package mailbox

// Queue is a FIFO of messages. It reuses its array while it is in use and
// lets a large one go once it is empty. Its first array is its own: a
// queue that never holds more than one message at a time (a connection's
// system messages: Started, then Stop) costs no allocation.
type Queue struct {
	items []any
	head  int
	one   [1]any // items' array until a second message is queued behind the first
}

// keepCap is the largest array an empty queue keeps for its next burst.
const keepCap = 16

// Push queues v.
func (q *Queue) Push(v any) {
	if q.items == nil {
		q.items = q.one[:0]
	}
	q.items = append(q.items, v)
}

// Len is the number of messages queued.
func (q *Queue) Len() int { return len(q.items) - q.head }

// Pop takes the oldest message, or returns nil if none is queued.
func (q *Queue) Pop() any {
	if q.head == len(q.items) {
		return nil
	}
	v := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.head = 0
		if cap(q.items) > keepCap {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
	}
	return v
}
