// Package transports holds the actor-level tests of etcp's sockets and
// transports: TLS (server, client, mutual, handshake timeout), Unix
// sockets, every framing through a live connection actor, the maximum
// frame size, passive mode (Recv, srtimeout, switching modes), STARTTLS on
// both sides and socket options changed from callbacks. Every test runs
// over real sockets against server.Start or client.Dial.
package transports
