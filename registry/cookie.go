package registry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
)

// The cookie: a secret shared by the nodes of one trust group, as
// Erlang's. Two nodes prove to each other that they know it by a
// challenge and response on every connection, before gRPC speaks: each
// side sends a fresh nonce and answers the other's with an HMAC of both
// nonces keyed by the cookie. The cookie itself never crosses the wire,
// and an answer cannot be replayed on another connection. It proves
// membership of the group, not which member: a node's identity is then
// the address it claims, and with mutual TLS it is proven by its
// certificate instead.

// MinCookieLen is the shortest cookie accepted.
const MinCookieLen = 16

// CookieEnv is the environment variable a node reads its cookie from
// when none is given ([WithCookie]).
const CookieEnv = "ETCP_COOKIE"

// CookieFile is where, under the user's home directory, a node keeps
// its cookie when neither [WithCookie] nor [CookieEnv] gives one: it is
// created with a random cookie, readable by the user only, the first
// time a node needs it, so that every node a user starts on the machine
// shares it and no other user knows it.
const CookieFile = ".etcp.cookie"

// cookieTimeout bounds the handshake.
const cookieTimeout = 10 * time.Second

const (
	cookieMagic = "ETCPCK1\n"
	nonceLen    = 32
	macLen      = sha256.Size
)

// DefaultCookie is the cookie of a node given none ([WithCookie]):
// [CookieEnv] if set, else the content of the user's [CookieFile],
// which it creates with a random cookie if missing.
func DefaultCookie() (string, error) {
	if c := os.Getenv(CookieEnv); c != "" {
		return c, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("etcp/registry: no cookie (WithCookie, %s or ~/%s): %w", CookieEnv, CookieFile, err)
	}
	path := filepath.Join(home, CookieFile)
	if _, err := os.Stat(path); err == nil {
		return readCookie(path)
	}
	// Written aside and linked into place: of nodes starting at once, the
	// first link wins and every node reads the same cookie.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(home, CookieFile+".*")
	if err != nil {
		return "", fmt.Errorf("etcp/registry: creating the cookie file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(secret) + "\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("etcp/registry: writing the cookie file: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("etcp/registry: creating the cookie file: %w", err)
	}
	return readCookie(path)
}

// readCookie reads the cookie file at path, which must be its user's
// only, as Erlang requires of its own.
func readCookie(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("etcp/registry: reading the cookie file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%w: the cookie file %s has mode %#o: others may read it (chmod 600 %s)", ErrInvalid, path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("etcp/registry: reading the cookie file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// cookieCreds are gRPC transport credentials that run the cookie
// handshake on each connection and then carry it in the clear: for
// loopback, where no one else sees the traffic.
type cookieCreds struct {
	key []byte
	// refused, if set, hears of every dialling node that failed the
	// challenge (the node counts and logs it).
	refused func(from string, err error)
}

// cookieAuth is the AuthInfo of a connection whose peer proved it knows
// the cookie.
type cookieAuth struct{ credentials.CommonAuthInfo }

func (cookieAuth) AuthType() string { return "etcp-cookie" }

func newCookieCreds(cookie string) *cookieCreds { return &cookieCreds{key: []byte(cookie)} }

// CookieCredentials are gRPC transport credentials that make a
// connection prove, both ways, that its two ends know cookie (see
// [WithCookie]). [StartNode] installs them itself; give them to a
// protoactor remote of your own (remote.WithServerOptions(grpc.Creds(c))
// and remote.WithDialOptions(grpc.WithTransportCredentials(c))) for it
// to talk with etcp's nodes without mutual TLS.
func CookieCredentials(cookie string) credentials.TransportCredentials { return newCookieCreds(cookie) }

func (c *cookieCreds) mac(side byte, a, b []byte) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte{side})
	h.Write(a)
	h.Write(b)
	return h.Sum(nil)
}

// ServerHandshake challenges the dialling node, checks its answer, then
// answers the node's own challenge.
func (c *cookieCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	_ = conn.SetDeadline(time.Now().Add(cookieTimeout))
	defer conn.SetDeadline(time.Time{})
	snonce := make([]byte, nonceLen)
	if _, err := rand.Read(snonce); err != nil {
		return nil, nil, err
	}
	if _, err := conn.Write(append([]byte(cookieMagic), snonce...)); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	in := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(conn, in); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	cnonce, cmac := in[:nonceLen], in[nonceLen:]
	if !hmac.Equal(cmac, c.mac('c', snonce, cnonce)) {
		_, _ = conn.Write([]byte{0})
		err := fmt.Errorf("%w: the dialling node does not know this node's cookie", ErrUnauthenticated)
		if c.refused != nil {
			c.refused(conn.RemoteAddr().String(), err)
		}
		return nil, nil, err
	}
	if _, err := conn.Write(append([]byte{1}, c.mac('s', cnonce, snonce)...)); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	return conn, cookieAuth{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

// ClientHandshake answers the node's challenge and checks that it knows
// the cookie too.
func (c *cookieCreds) ClientHandshake(ctx context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	deadline := time.Now().Add(cookieTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	in := make([]byte, len(cookieMagic)+nonceLen)
	if _, err := io.ReadFull(conn, in); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	if string(in[:len(cookieMagic)]) != cookieMagic {
		return nil, nil, fmt.Errorf("%w: the node does not speak etcp's cookie handshake", ErrUnauthenticated)
	}
	snonce := in[len(cookieMagic):]
	cnonce := make([]byte, nonceLen)
	if _, err := rand.Read(cnonce); err != nil {
		return nil, nil, err
	}
	if _, err := conn.Write(append(cnonce, c.mac('c', snonce, cnonce)...)); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	ans := make([]byte, 1+macLen)
	if _, err := io.ReadFull(conn, ans[:1]); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	if ans[0] != 1 {
		return nil, nil, fmt.Errorf("%w: the node refused this node's cookie", ErrUnauthenticated)
	}
	if _, err := io.ReadFull(conn, ans[1:]); err != nil {
		return nil, nil, fmt.Errorf("etcp: cookie handshake: %w", err)
	}
	if !hmac.Equal(ans[1:], c.mac('s', cnonce, snonce)) {
		return nil, nil, fmt.Errorf("%w: the node does not know this node's cookie", ErrUnauthenticated)
	}
	return conn, cookieAuth{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

// Info names the protocol for gRPC.
func (c *cookieCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "etcp-cookie"}
}

// Clone copies the credentials, as gRPC asks of them.
func (c *cookieCreds) Clone() credentials.TransportCredentials {
	return &cookieCreds{key: c.key, refused: c.refused}
}

// OverrideServerName does nothing: the cookie names no server.
func (c *cookieCreds) OverrideServerName(string) error { return nil }
