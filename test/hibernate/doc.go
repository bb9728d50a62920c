// Package hibernate holds the hibernation suite: hibernated connections
// hold no goroutine and wake, with their PID and state, on bytes, on every
// kind of message and on peer close.
package hibernate
