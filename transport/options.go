package transport

import (
	"fmt"
	"time"
)

// Defaults for [Options]; zero fields take these values in [Options.Validate].
const (
	DefaultMaxFrame         = 1 << 20 // 1 MiB
	DefaultBacklog          = 1024    // as ranch_tcp
	DefaultConnectTimeout   = 3 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultWriteTimeout     = 30 * time.Second // ranch_tcp's send_timeout
	DefaultKeepAlive        = 15 * time.Second // Go's own default
)

// DefaultSocketOptions apply when [Options.Socket] is left zero.
var DefaultSocketOptions = SocketOptions{NoDelay: true, KeepAlive: DefaultKeepAlive}

// SocketOptions are the per-socket settings a connection can read and
// change while it lives.
type SocketOptions struct {
	// NoDelay disables Nagle's algorithm (TCP only). Default true.
	NoDelay bool
	// KeepAlive is the TCP keep-alive period; 0 or negative turns it off.
	// Default 15 s.
	KeepAlive time.Duration
	// ReadBuffer and WriteBuffer are the kernel buffer sizes (SO_RCVBUF,
	// SO_SNDBUF); 0 keeps the system's.
	ReadBuffer, WriteBuffer int
}

// Options are the socket-level settings of a server, client or pool: what
// Erlang passes as socket options. The zero value is usable: Validate fills
// in every default.
type Options struct {
	// Transport makes the sockets. Default [TCP].
	Transport Transport
	// Framer splits the stream into packets. Default [Raw].
	Framer Framer
	// MaxFrame bounds a frame's size in bytes (and a raw read). Default 1 MiB.
	MaxFrame int
	// Passive starts connections in passive mode: nothing is read until the
	// handler asks. Default false (active).
	Passive bool
	// Socket are the options set on every new socket. The zero value means
	// [DefaultSocketOptions]; set KeepAlive negative to turn everything off.
	Socket SocketOptions
	// Backlog is the listen queue length. Default 1024.
	Backlog int
	// ConnectTimeout bounds a dial. Default 3 s, as etcp.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds a transport handshake (TLS). Default 5 s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one write to a peer that does not read; the
	// connection ends when it passes. Default 30 s; negative means none.
	WriteTimeout time.Duration
	// ReusePort sets SO_REUSEPORT on listening sockets, so that several
	// can share one address (TCP only). Default false.
	ReusePort bool

	validated bool
}

// Option changes one field of [Options].
type Option func(*Options)

// Defaults returns Options with every default filled in.
func Defaults() Options {
	var o Options
	_ = o.Validate()
	return o
}

// Validate fills in defaults and reports the first invalid field, wrapped in
// [ErrInvalidOptions].
func (o *Options) Validate() error {
	if o.validated {
		return nil
	}
	if o.Transport == nil {
		o.Transport = TCP()
	}
	if o.Socket == (SocketOptions{}) {
		o.Socket = DefaultSocketOptions
	}
	if o.Framer == nil {
		o.Framer = Raw()
	}
	switch {
	case o.MaxFrame == 0:
		o.MaxFrame = DefaultMaxFrame
	case o.MaxFrame < 0:
		return fmt.Errorf("%w: MaxFrame %d is negative", ErrInvalidOptions, o.MaxFrame)
	}
	switch {
	case o.Backlog == 0:
		o.Backlog = DefaultBacklog
	case o.Backlog < 0:
		return fmt.Errorf("%w: Backlog %d is negative", ErrInvalidOptions, o.Backlog)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ConnectTimeout < 0 || o.HandshakeTimeout < 0 {
		return fmt.Errorf("%w: ConnectTimeout and HandshakeTimeout must be positive", ErrInvalidOptions)
	}
	if o.Socket.ReadBuffer < 0 || o.Socket.WriteBuffer < 0 {
		return fmt.Errorf("%w: socket buffer sizes must not be negative", ErrInvalidOptions)
	}
	o.validated = true
	return nil
}

// orDefaults returns o if it is already validated, or else a validated copy
// (defaults for a nil o), so a transport never works from half-filled
// options such as a zero backlog.
func (o *Options) orDefaults() (*Options, error) {
	if o == nil {
		d := Defaults()
		return &d, nil
	}
	if o.validated {
		return o, nil
	}
	c := *o
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// New returns validated Options: defaults, then opts in order. A nil option
// is an error, not a panic.
func New(opts ...Option) (Options, error) {
	var o Options
	for i, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: option %d is nil", ErrInvalidOptions, i)
		}
		opt(&o)
	}
	return o, o.Validate()
}

// WithTransport sets the transport ([TCP], [TLS], [Unix] or your own).
func WithTransport(t Transport) Option { return func(o *Options) { o.Transport = t } }

// WithFramer sets the framing ([Raw], [Length], [Line] or your own).
func WithFramer(f Framer) Option { return func(o *Options) { o.Framer = f } }

// WithMaxFrame sets the largest frame accepted, in bytes.
func WithMaxFrame(n int) Option { return func(o *Options) { o.MaxFrame = n } }

// WithPassive starts connections in passive mode.
func WithPassive() Option { return func(o *Options) { o.Passive = true } }

// WithSocketOptions sets the options applied to every new socket.
func WithSocketOptions(s SocketOptions) Option { return func(o *Options) { o.Socket = s } }

// WithBacklog sets the listen queue length.
func WithBacklog(n int) Option { return func(o *Options) { o.Backlog = n } }

// WithConnectTimeout bounds each dial.
func WithConnectTimeout(d time.Duration) Option { return func(o *Options) { o.ConnectTimeout = d } }

// WithHandshakeTimeout bounds each transport handshake.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *Options) { o.HandshakeTimeout = d }
}

// WithReusePort sets SO_REUSEPORT on listening sockets.
func WithReusePort() Option { return func(o *Options) { o.ReusePort = true } }

// WithWriteTimeout bounds each write; negative means no bound.
func WithWriteTimeout(d time.Duration) Option { return func(o *Options) { o.WriteTimeout = d } }
