package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// requestIDHeader is the metadata a call's request id goes in: the
// server logs and audits the call under it (grpcapi.RequestIDHeader).
const requestIDHeader = "x-request-id"

// newRemoteRequestID returns a request id for one command's call to a
// running server: the command's name and a random suffix, in the form
// the server takes as it is (letters, digits, dashes; under 64), so that
// the audit event of the call names the command that made it.
func newRemoteRequestID(command string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return command + "-" + hex.EncodeToString(b[:])
}

// remoteCallContext is ctx with the metadata of a command's call: the
// admin's token and the call's request id.
func remoteCallContext(ctx context.Context, token, requestID string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token, requestIDHeader, requestID)
}

// remoteTLS is how a command that calls a running server (backup and keys
// rotate with --addr) meets its TLS: the CA of the server's certificate,
// and the client certificate a server started with --client-ca asks every
// caller for.
type remoteTLS struct {
	caFile, certFile, keyFile string
}

// remoteTLSFlags declares --ca-cert, --client-cert and --client-key.
func remoteTLSFlags(fs *flag.FlagSet, r *remoteTLS) {
	stringFlag(fs, &r.caFile, "ca-cert", "PEM CA of the server's certificate, with --addr when it serves TLS")
	stringFlag(fs, &r.certFile, "client-cert", "PEM client certificate file (with --client-key), with --addr when the server was started with --client-ca")
	stringFlag(fs, &r.keyFile, "client-key", "PEM private key file of --client-cert")
}

// remoteOnlyFlags refuses, without --addr, the flags that only a call to a
// running server reads (--token and the TLS ones) when they were given on
// the command line: the command then works on a file instead, and a
// forgotten --addr would go unnoticed, the flags silently dropped. Their
// environment twins do not count, as a backup.env may hold them for
// either way of running.
func remoteOnlyFlags(fs *flag.FlagSet, command, offline string) error {
	named := namedFlags(fs, "token", "ca-cert", "client-cert", "client-key")
	if len(named) == 0 {
		return nil
	}
	// How the command was given, as a flag of the other store is: a
	// usage error (exit 2), which a script tells from a failed run.
	return usageError{fmt.Errorf("--%s: with --addr only (%s through a running server); without --addr %s %s", strings.Join(named, ", --"), command, command, offline)}
}

// addrSource names where the server's address came from: --addr, or its
// environment twin, which an operator who exported it for the backup unit
// may not think of when a command they meant to run on a file is refused.
func addrSource(fs *flag.FlagSet) string {
	if len(namedFlags(fs, "addr")) > 0 {
		return "--addr"
	}
	return envName("addr") + " (--addr)"
}

// on reports whether the connection uses TLS.
func (r remoteTLS) on() bool { return r.caFile != "" || r.certFile != "" || r.keyFile != "" }

// dial opens a connection to addr: in plain text without any TLS flag, else
// over TLS checked against --ca-cert (the system's CAs without it), with the
// client certificate when one is given.
func (r remoteTLS) dial(addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if r.on() {
		if (r.certFile == "") != (r.keyFile == "") {
			return nil, errors.New("--client-cert, --client-key: a client certificate needs both files")
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if r.caFile != "" {
			pemBytes, err := os.ReadFile(r.caFile)
			if err != nil {
				return nil, fmt.Errorf("--ca-cert: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("--ca-cert: %s holds no PEM certificate", r.caFile)
			}
		}
		if r.certFile != "" {
			cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
			if err != nil {
				return nil, fmt.Errorf("--client-cert, --client-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		creds = credentials.NewTLS(cfg)
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
}

// explain adds to a call's error what an operator should try when a server
// that asks for client certificates hung up on a caller without one (gRPC
// reports that only as a broken connection).
//
// Without any TLS flag the command speaks plain text; a server that serves
// TLS hangs up before its HTTP/2 preface, which gRPC reports as that
// preface unread: the operator is told to give --ca-cert. The other way
// round, a TLS flag (or CHILDCASE_CA_CERT from a backup.env) against a
// server in plain text fails at the first record of the handshake, and a
// server certificate another CA signed fails its verification here: that
// says nothing of client certificates, and neither does a connection
// nothing accepted, so none of them gets that hint.
func (r remoteTLS) explain(err error) error {
	if status.Code(err) != codes.Unavailable {
		return err
	}
	msg := status.Convert(err).Message()
	switch {
	case r.on() && strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Errorf("%w (the server answers in plain text, not TLS: leave out --ca-cert, --client-cert and --client-key and their CHILDCASE_ environment twins, or start it with --tls-cert and --tls-key)", err)
	case r.on() && strings.Contains(msg, "failed to verify certificate"):
		return fmt.Errorf("%w (the server's certificate does not verify against --ca-cert, or without it the system's CAs: give the PEM CA that signed it, and the name on the certificate in --addr)", err)
	case nothingAnswered(msg):
		return err
	case r.on() && r.certFile == "":
		return fmt.Errorf("%w (if the server was started with --client-ca, it asks every caller for a certificate that CA signed: give --client-cert and --client-key)", err)
	case !r.on() && strings.Contains(msg, "server preface"):
		return fmt.Errorf("%w (if the server serves TLS (--tls-cert), this command spoke plain text to it: give --ca-cert with the PEM CA of its certificate)", err)
	}
	return err
}

// nothingAnswered reports whether a dial error says that no server took
// the connection at all (nothing listens there, the name does not
// resolve, the host does not answer): TLS has nothing to do with it.
func nothingAnswered(msg string) bool {
	for _, s := range []string{"connection refused", "no such host", "i/o timeout", "no route to host", "network is unreachable"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
