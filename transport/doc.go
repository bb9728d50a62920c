// Package transport is the socket layer of etcp: what Erlang's etcp calls a
// "transporter" and ranch a transport.
//
// # Transports
//
// A [Transport] listens, accepts and dials; the [Conn] it returns is a
// [net.Conn] with a handshake step, a half-close and socket options. [TCP]
// and [Unix] are plain stream sockets; [TLS] runs crypto/tls over TCP, and
// [UpgradeTLS] over any live Conn (STARTTLS). [SelfSigned] makes a
// certificate for examples and tests.
// A user plugs in a transport of their own by implementing the two small
// interfaces; a Conn that also implements [syscall.Conn] gets etcp's
// zero-buffer idle reads for free, and package transporttest checks that
// it behaves as etcp expects. A Conn that is a [Detacher] (TCP and Unix
// are) can be held as a bare descriptor, [Detached], while its connection
// hibernates, and attached again when it wakes.
//
// # Framing
//
// A [Framer] splits the byte stream into packets, like Erlang's
// {packet, N} socket option: [Raw], [Length] (1, 2 or 4-byte big-endian
// prefix) and [Line]. Every framer is bounded by a maximum frame size; a
// frame that announces more ends the connection with [ErrFrameTooLarge]
// without allocating what it announced.
//
// A framer keeps nothing between calls, so a frame that arrives over many
// reads is decoded again from its start on each, unless the framer is
// also a [Resumer]: its DecodeFrom returns a small [ScanState] with an
// incomplete frame, which the connection keeps and hands back with the
// frame's next bytes, and each byte is scanned once. Line is a Resumer;
// the Length framers need none, since they know a frame's size from its
// header.
//
// # Options
//
// [Options] gathers the socket-level settings a server, client or pool
// takes (framing, active or passive mode, timeouts, socket options), each
// with a default that [Options.Validate] fills in and checks. A bad one is
// an error wrapping [ErrInvalidOptions], the one invalid-options sentinel
// of the module: actors, server, client and pool re-export it, and their
// errors say "invalid options" once, whichever layer found it.
package transport
