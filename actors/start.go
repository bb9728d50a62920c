package actors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// start runs on Started: the transport handshake, then Init.
func (c *conn) start() {
	if err := c.handshake(c.sock); err != nil {
		c.fail(err)
		return
	}
	c.handler = c.g.factory()
	if c.handler == nil {
		c.fail(errors.New("etcp: handler factory returned nil"))
		return
	}
	r, err := c.invoke(cbInit, c.g.arg, nil, behaviours.From{})
	if err == nil && r.Declined() {
		c.fail(ErrDeclined)
		return
	}
	// From here Terminate runs once, whatever ends the connection, a
	// panic in Init included.
	c.life = lifeUp
	c.up()
	c.frameArrived(time.Since(epoch)) // the idle timeout counts from the start
	if rerr := c.registerSelf(); rerr != nil && err == nil {
		err = rerr // the name its owner asked for is taken: the start fails
	}
	if err != nil {
		c.terminate(err)
	} else {
		c.apply(cbInit, &r)
	}
	var reason error // Init panicked or asked to close or stop: the start fails with that
	if c.life == lifeDone {
		reason = c.endReason(errConnClosed)
	}
	c.upNotified = reason == nil
	if c.notify != nil {
		c.tell(&ConnUp{Info: c.info(), Err: reason})
	}
	if c.upOnly {
		c.notify = nil
	}
}

// handshake runs the transport's handshake, bounded by HandshakeTimeout;
// a transport whose connections have none (TCP, Unix) costs nothing here.
func (c *conn) handshake(sock transport.Conn) error {
	if transport.Plain(sock) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.g.socket.HandshakeTimeout)
	defer cancel()
	err := sock.Handshake(ctx)
	if err != nil {
		c.g.handshakeFailed()
	}
	return err
}

// fail ends a connection whose start failed before Init ran, or whose
// Init declined it (etcp's ignore): Terminate does not run.
func (c *conn) fail(err error) {
	c.life = lifeDone
	c.closeRead()
	c.sock.Close()
	if !errors.Is(err, ErrDeclined) && c.logs(slog.LevelDebug) {
		c.Logger().Debug("etcp: connection start failed", "err", err)
	}
	if c.notify != nil {
		c.tell(&ConnUp{Info: c.info(), Err: err})
	}
	c.stopSelf()
}
