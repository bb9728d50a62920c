package actors

import (
	"crypto/tls"

	"github.com/etcp-go/etcp/transport"
)

func upgradeTLS(c transport.Conn, cfg *tls.Config, server bool) transport.Conn { _ = cfg; _ = server; return c }
