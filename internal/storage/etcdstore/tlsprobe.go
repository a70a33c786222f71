package etcdstore

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// probeTimeout bounds each step (connect, handshake, the wait for a
// refusal) of tlsProblem's look at one endpoint.
const probeTimeout = time.Second

// tlsProblem says why a cluster that did not answer Open's check refused
// it, when the reason is the connection's TLS: the client library then
// waits its whole dial timeout and tells only "context deadline
// exceeded", for a member that wants a client certificate and got none
// (or one its --trusted-ca-file did not sign), a member whose certificate
// the CA file does not verify, or TLS on one side only. It tries one TLS
// handshake with each endpoint in turn and returns a *ConfigError naming
// the setting to change for the first refusal it recognises, or nil (an
// endpoint that does not accept the connection, or accepts the handshake,
// is no TLS problem).
func tlsProblem(endpoints []string, tc *tls.Config, cfg Config) error {
	for _, ep := range endpoints {
		hostPort := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ep, "https://"), "http://"), "/")
		if err := probeTLS(hostPort, tc, cfg); err != nil {
			return err
		}
	}
	return nil
}

// noMemberAccepts says why a cluster that did not answer Open's check is
// out of reach when none of its endpoints accepts a connection at all (a
// wrong host or port, a name that does not resolve, members not running):
// the client library says only "context deadline exceeded" for that too.
// It returns a *ConfigError of the endpoints with each one's reason, or
// nil when any endpoint accepts a connection.
func noMemberAccepts(endpoints []string) error {
	var reasons []string
	for _, ep := range endpoints {
		hostPort := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ep, "https://"), "http://"), "/")
		conn, err := net.DialTimeout("tcp", hostPort, probeTimeout)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", hostPort, err))
	}
	return &ConfigError{"Endpoints", fmt.Sprintf("no member accepts a connection (%s): check the endpoints, and that the members run",
		strings.Join(reasons, "; "))}
}

// probeTLS is tlsProblem for one member at hostPort.
func probeTLS(hostPort string, tc *tls.Config, cfg Config) error {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil
	}
	conn, err := net.DialTimeout("tcp", hostPort, probeTimeout)
	if err != nil {
		return nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * probeTimeout))
	if tc == nil {
		// Plain connections: does the member speak TLS instead?
		if tls.Client(conn, &tls.Config{InsecureSkipVerify: true}).Handshake() == nil { //nolint:gosec // only asks whether it speaks TLS
			return &ConfigError{"CAFile", fmt.Sprintf("etcd member %s serves TLS on its client port: give the CA file "+
				"that signed its certificate (and a client certificate, if it asks for one)", hostPort)}
		}
		return nil
	}
	c := tc.Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	tconn := tls.Client(conn, c)
	err = tconn.Handshake()
	if err == nil {
		// Under TLS 1.3 a member refuses the client certificate after the
		// handshake, with an alert that the first read brings.
		_, err = tconn.Read(make([]byte, 1))
	}
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	var op *net.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &verify):
		return &ConfigError{"CAFile", fmt.Sprintf("the certificate of etcd member %s does not verify against %s: %v",
			hostPort, orSystemRoots(cfg.CAFile), verify.Err)}
	case errors.As(err, &header) || speaksPlainHTTP(hostPort):
		return &ConfigError{"CAFile", fmt.Sprintf("etcd member %s does not serve TLS on its client port: "+
			"leave out the CA file and client certificate, or serve TLS there", hostPort)}
	case errors.As(err, &op) && op.Op == "remote error":
		if cfg.CertFile == "" {
			return &ConfigError{"CertFile, KeyFile", fmt.Sprintf("etcd member %s refused the connection (%v): "+
				"it asks for a client certificate signed by its --trusted-ca-file", hostPort, op.Err)}
		}
		return &ConfigError{"CertFile, KeyFile", fmt.Sprintf("etcd member %s refused the client certificate %s (%v): "+
			"it takes one signed by its --trusted-ca-file", hostPort, cfg.CertFile, op.Err)}
	}
	return nil
}

// speaksPlainHTTP reports whether the member at hostPort answers a plain
// HTTP request for its version. An etcd member without TLS closes a TLS
// handshake without a TLS record (the client reads only EOF, nothing that
// names the cause), but answers HTTP/1 on its client port (/version, 200):
// that answer is what tells a member without TLS from one that failed
// otherwise. A member under TLS closes the plain request unanswered (an
// HTTPS server of Go's would answer 400, which does not count).
func speaksPlainHTTP(hostPort string) bool {
	code, ok := plainHTTPStatus(hostPort)
	return ok && strings.HasPrefix(code, "200 ")
}

// plainHTTPStatus asks the server at hostPort, over a plain connection,
// for etcd's /version, and returns the status of its HTTP/1 answer (as
// "404 Not Found"); ok is false when it gives none.
func plainHTTPStatus(hostPort string) (code string, ok bool) {
	conn, err := net.DialTimeout("tcp", hostPort, probeTimeout)
	if err != nil {
		return "", false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * probeTimeout))
	if _, err := io.WriteString(conn, "GET /version HTTP/1.0\r\nHost: "+hostPort+"\r\n\r\n"); err != nil {
		return "", false
	}
	status, err := bufio.NewReader(io.LimitReader(conn, 256)).ReadString('\n')
	if err != nil {
		return "", false
	}
	proto, code, _ := strings.Cut(status, " ")
	return strings.TrimSpace(code), strings.HasPrefix(proto, "HTTP/1.")
}

// orSystemRoots names the CA file, or the system's roots when none is
// given.
func orSystemRoots(caFile string) string {
	if caFile == "" {
		return "the system's CA certificates"
	}
	return caFile
}

// noEtcdMember says why the check of Open failed when what answered is a
// gRPC server without etcd's services (a childcase instance's own gRPC
// port given as the store, or another program's): err, the check's
// error, is then Unimplemented, which the client passes on as "does not
// answer". It returns a *ConfigError of the endpoints, or nil for any
// other error.
func noEtcdMember(endpoints []string, err error) error {
	hosts := make([]string, len(endpoints))
	for i, ep := range endpoints {
		hosts[i] = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ep, "https://"), "http://"), "/")
	}
	if status.Code(err) != codes.Unimplemented {
		// A web server (a childcase instance's --http-addr) keeps the
		// client waiting its whole dial timeout; etcd's client port
		// answers /version with 200 over plain HTTP/1.
		for i, ep := range endpoints {
			if !strings.HasPrefix(ep, "http://") {
				continue
			}
			if code, ok := plainHTTPStatus(hosts[i]); ok && !strings.HasPrefix(code, "200 ") {
				return &ConfigError{"Endpoints", fmt.Sprintf("%s is no etcd member: it answers HTTP/1 (%s for etcd's /version), "+
					"not etcd's gRPC; give the members' client URLs (port 2379 by default)", hosts[i], code)}
			}
		}
		return nil
	}
	which := hosts[0]
	if len(hosts) > 1 {
		which = "one of " + strings.Join(hosts, ", ")
	}
	return &ConfigError{"Endpoints", fmt.Sprintf("%s is no etcd member: it answers gRPC without etcd's services (%v); "+
		"give the members' client URLs (port 2379 by default)", which, status.Convert(err).Message())}
}
