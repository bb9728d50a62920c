// Package testcerts makes throwaway certificates for tests of mutual TLS:
// an ephemeral certificate authority (crypto/x509, ECDSA P-256) and
// certificates it signs, usable as both server and client certificates
// for 127.0.0.1, ::1 and localhost ([CA.Issue]), or for addresses of the
// caller's choice ([CA.IssueFor]).
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// A CA is an ephemeral certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	Pool *x509.CertPool // holds Cert only
	PEM  []byte         // Cert, PEM-encoded
}

// next is a random serial number.
func next() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}

// NewCA makes a certificate authority named name, valid for a day.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          next(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, key: key, Pool: pool,
		PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// A Leaf is a certificate the CA signed, with its key.
type Leaf struct {
	TLS     tls.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// Issue signs a certificate for name, valid for 127.0.0.1, ::1 and
// localhost, as a server and as a client.
func (ca *CA) Issue(name string) (*Leaf, error) {
	return ca.issue(name, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"}, nil)
}

// IssueURIs is Issue with URI SANs as well (a node's etcp://host:port).
func (ca *CA) IssueURIs(name string, uris ...*url.URL) (*Leaf, error) {
	return ca.issue(name, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"}, uris)
}

// IssueFor signs a certificate for name, valid for the given IP
// addresses only (IP SANs; no loopback, no DNS name), as a server and
// as a client: the certificate of a node that listens on a
// non-loopback address.
func (ca *CA) IssueFor(name string, ips ...net.IP) (*Leaf, error) {
	if len(ips) == 0 {
		return nil, errors.New("testcerts: IssueFor needs at least one IP address")
	}
	return ca.issue(name, ips, nil, nil)
}

func (ca *CA) issue(name string, ips []net.IP, dns []string, uris []*url.URL) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		URIs:         uris,
		SerialNumber: next(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	l := &Leaf{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}
	l.TLS, err = tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	return l, err
}

// Server is the server side of mutual TLS with l, trusting clients that
// ca signed.
func (l *Leaf) Server(ca *CA) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{l.TLS}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

// Client is the client side of mutual TLS with l, trusting servers that
// ca signed.
func (l *Leaf) Client(ca *CA) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{l.TLS}, RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

// Files writes the CA's certificate and l's certificate and key into dir
// as ca.pem, cert.pem and key.pem, and returns their paths.
func (l *Leaf) Files(dir string, ca *CA) (caFile, certFile, keyFile string, err error) {
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []struct {
		path string
		data []byte
	}{{caFile, ca.PEM}, {certFile, l.CertPEM}, {keyFile, l.KeyPEM}} {
		if err = os.WriteFile(f.path, f.data, 0o600); err != nil {
			return
		}
	}
	return
}
