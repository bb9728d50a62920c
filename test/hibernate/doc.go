// Package hibernate holds the hibernation suite: hibernated connections
// are passivated, hold no goroutine and wake, with their PID and state, on
// bytes, on every kind of message and on peer close; passivation races
// with messages, watches, clients, pools, Unix and TLS sockets, passive
// mode, partial frames and server stops.
package hibernate
