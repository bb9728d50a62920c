// Package mailbox is the one mailbox queue of etcp's actors: the two
// queues every mailbox keeps (system messages ahead of user ones, under
// one lock), shared by the connection's own mailbox (package actors) and
// by [Mailbox], the mailbox of the actors that host connections (the
// server's supervisors and acceptors, through actors/host).
package mailbox
