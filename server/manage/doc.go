// Package manage is remote supervision: a node's management endpoint and
// a client for it.
package manage
