// Package app wires childcase together: it opens the database, loads the
// reference data, starts the gRPC and HTTP servers (with TLS, and mutual TLS,
// when configured) and shuts them down in reverse order. Tests start the real
// service through Start on random ports. It must not hold business logic.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/test/bufconn"

	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/calendar"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/outbox"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/transport/clientaddr"
	"github.com/childcase/childcase/internal/transport/grpcapi"
	"github.com/childcase/childcase/internal/transport/httpapi"
	"github.com/childcase/childcase/internal/transport/metrics"
	"github.com/childcase/childcase/internal/transport/web"
	"github.com/childcase/childcase/internal/transport/webhook"
)

// Config is the service's configuration. Every field has a flag and an
// environment variable (see package cli).
type Config struct {
	DBPath string // bbolt file, created when missing
	// Store selects where the data lives: "" or StoreBolt, the bbolt file
	// at DBPath; or "etcd://host:port[,host:port...]", an etcd cluster that
	// several instances share (one of them, elected, runs the deadline
	// scheduler and webhook delivery).
	Store string
	// The etcd store's settings: the key prefix (default "/childcase/"),
	// the PEM files of the CA that signed the members' certificates and of
	// the client certificate and key (TLS when any is set), and the largest
	// commit sent, which the cluster's --max-txn-ops and
	// --max-request-bytes must allow (0: etcdstore's defaults).
	EtcdPrefix          string
	EtcdCAFile          string
	EtcdCertFile        string
	EtcdKeyFile         string
	EtcdMaxTxnOps       int
	EtcdMaxRequestBytes int64
	GRPCAddr            string // host:port for gRPC
	HTTPAddr            string // host:port for REST, /openapi.json, /healthz and /readyz
	// MetricsAddr is host:port for the Prometheus metrics (/metrics), a
	// listener of its own so that the public port does not expose them;
	// empty: no metrics are served.
	MetricsAddr     string
	ShutdownTimeout time.Duration // how long in-flight requests get to finish
	// DrainDelay is how long, once a stop begins, the server goes on
	// serving with /readyz answering 503, before anything stops: a load
	// balancer that probes /readyz takes it out of rotation meanwhile,
	// rather than meeting a closed port. Zero: no delay.
	DrainDelay time.Duration

	// Transport security. With TLSCert and TLSKey, gRPC and HTTP are served
	// over TLS (1.2 at least; 1.3 is negotiated whenever the client can).
	// With ClientCA as well, both require a client certificate signed by
	// that CA (mutual TLS, for the police systems). All empty: plain text.
	TLSCert  string // PEM certificate chain file, leaf first
	TLSKey   string // PEM private key file of TLSCert
	ClientCA string // PEM file of the CA certificates client certificates must chain to

	// KeyFile holds the master key that wraps the data keys of the
	// children's and reporters' data. Created (mode 0600) when missing on
	// a database that holds no encrypted data yet.
	KeyFile string
	// Demo seeds demo users for every role, police units and a handful of
	// cases, and prints the demo users' tokens.
	Demo bool
	// DemoTokensFile, with Demo, also receives the demo tokens as shell
	// assignments (HOTLINE_OPERATOR='cc_...'), mode 0600, replaced at every
	// start, so a walk-through can read them with ". ./FILE" instead of
	// copying them from the console.
	DemoTokensFile string
	// PolicyFile holds the deployment's deadline policy (JSON); empty: the
	// shipped defaults.
	PolicyFile string

	// Limits. Zero takes the default named on each field (the Default*
	// constants); a negative value is refused. WithDefaults fills them in.
	MaxRecvMsgSize       int           // largest gRPC request message, in bytes
	MaxSendMsgSize       int           // largest gRPC response message, in bytes
	MaxConcurrentStreams int           // calls at once on one gRPC connection, and requests on one HTTP/2 connection
	MaxStreamsPerUser    int           // server streams (WatchEvents, BackupDatabase, ExportCases) one user holds open at once
	RequestTimeout       time.Duration // the server's deadline for every unary call; streams have none
	// Keepalive: clients may ping at most every KeepaliveMinTime, and only
	// while a call is open unless KeepalivePermitWithoutStream (otherwise
	// the connection is closed with too_many_pings); a connection idle for
	// KeepaliveMaxConnectionIdle is closed; the server pings a connection
	// quiet for KeepaliveTime and closes it without an answer within
	// KeepaliveTimeout.
	KeepaliveMinTime             time.Duration
	KeepalivePermitWithoutStream bool
	KeepaliveMaxConnectionIdle   time.Duration
	KeepaliveTime                time.Duration
	KeepaliveTimeout             time.Duration
	// MaxDBSize caps the database file, in bytes: a write that would grow
	// it further is refused (RESOURCE_EXHAUSTED, DATABASE_FULL) and reads go
	// on. Zero: no cap but the disk's.
	MaxDBSize int64
	// TrustedProxies are the comma-separated CIDRs of the reverse proxies
	// whose X-Forwarded-For names the client (for the sign-in throttle and
	// its audit); empty: the client is the connection's peer.
	TrustedProxies string
	// DBReserve is room, in bytes, kept back from ordinary writes for the
	// audit events of reads, so that a full database still answers reads:
	// below MaxDBSize (at most a quarter of it), and on the disk as a file
	// beside the database. Zero: DefaultDBReserve.
	DBReserve int64
	// OutboxRetention is how long a notification stays in the outbox: the
	// leader prunes older ones, never one a webhook of the policy has not
	// acknowledged. Zero: outbox.DefaultRetention (90 days).
	OutboxRetention time.Duration
}

// The defaults of the limits in Config.
const (
	DefaultMaxRecvMsgSize             = 4 << 20
	DefaultMaxSendMsgSize             = 16 << 20
	DefaultMaxConcurrentStreams       = 100
	DefaultMaxStreamsPerUser          = 4
	DefaultRequestTimeout             = 30 * time.Second
	DefaultKeepaliveMinTime           = 10 * time.Second
	DefaultKeepaliveMaxConnectionIdle = 15 * time.Minute
	DefaultKeepaliveTime              = 2 * time.Hour
	DefaultKeepaliveTimeout           = 20 * time.Second
	DefaultDBReserve                  = 16 << 20
)

// DefaultHTTPWriteTimeout bounds writing an ordinary REST answer, from the
// end of the request's headers; streaming answers have their own bound
// per write (httpapi.DefaultStreamWriteTimeout).
const DefaultHTTPWriteTimeout = 60 * time.Second

// DefaultRequestReadTimeout bounds the arrival of a request, from its
// start until it is read whole: an HTTP request's headers and body, a
// gRPC call's first message.
const DefaultRequestReadTimeout = 30 * time.Second

// WithDefaults returns c with every limit left at zero set to its default
// (MaxDBSize stays zero: no cap).
func (c Config) WithDefaults() Config {
	setDefault(&c.MaxRecvMsgSize, DefaultMaxRecvMsgSize)
	setDefault(&c.MaxSendMsgSize, DefaultMaxSendMsgSize)
	setDefault(&c.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	setDefault(&c.MaxStreamsPerUser, DefaultMaxStreamsPerUser)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.KeepaliveMinTime, DefaultKeepaliveMinTime)
	setDefault(&c.KeepaliveMaxConnectionIdle, DefaultKeepaliveMaxConnectionIdle)
	setDefault(&c.KeepaliveTime, DefaultKeepaliveTime)
	setDefault(&c.KeepaliveTimeout, DefaultKeepaliveTimeout)
	setDefault(&c.DBReserve, DefaultDBReserve)
	setDefault(&c.OutboxRetention, outbox.DefaultRetention)
	if _, etcd := c.etcdEndpoints(); !etcd {
		// Set here as the file will keep it, so that the log says what
		// is in effect.
		c.DBReserve = boltstore.ReserveFor(c.DBReserve, c.MaxDBSize)
	}
	// etcdstore takes 0 as these same defaults; set here, they are logged
	// as what is in effect.
	setDefault(&c.EtcdMaxTxnOps, DefaultEtcdMaxTxnOps)
	setDefault(&c.EtcdMaxRequestBytes, DefaultEtcdMaxRequestBytes)
	return c
}

func setDefault[T int | int64 | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}

// DefaultConfig returns the embedded default: a local file and localhost
// ports, nothing else to install.
func DefaultConfig() Config {
	return Config{
		DBPath:          "childcase.db",
		Store:           StoreBolt,
		EtcdPrefix:      DefaultEtcdPrefix,
		GRPCAddr:        "localhost:9111",
		HTTPAddr:        "localhost:8111",
		ShutdownTimeout: 15 * time.Second,
		KeyFile:         "childcase.key",
	}
}

// Validate reports the first problem with c, naming the setting. It reads
// the TLS files, so a certificate, key or CA that does not load is reported
// here rather than at the first connection.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate is Validate that also returns the server TLS configuration built
// from the files, nil when TLS is off.
func (c Config) validate() (*tls.Config, error) {
	if err := c.validateStore(); err != nil {
		return nil, err
	}
	if err := c.etcdSettingsOnAFile(); err != nil {
		return nil, err
	}
	if err := c.validateFolders(); err != nil {
		return nil, err
	}
	addrs := []struct{ name, addr string }{{"grpc-addr", c.GRPCAddr}, {"http-addr", c.HTTPAddr}}
	if c.MetricsAddr != "" {
		addrs = append(addrs, struct{ name, addr string }{"metrics-addr", c.MetricsAddr})
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return nil, fmt.Errorf("config: %s: %q is not host:port: %w", a.name, a.addr, err)
		}
	}
	if c.ShutdownTimeout <= 0 {
		return nil, errors.New("config: shutdown-timeout: must be positive")
	}
	if c.DrainDelay < 0 {
		return nil, errors.New("config: drain-delay: must be 0 or more")
	}
	if c.DemoTokensFile != "" && !c.Demo {
		return nil, errors.New("config: demo-tokens: needs --demo (only demo users' tokens are written)")
	}
	if err := replaceableFile("config: demo-tokens", c.DemoTokensFile); err != nil {
		return nil, err
	}
	if err := c.demoTokensOfTheirOwn(); err != nil {
		return nil, err
	}
	if err := c.validateLimits(); err != nil {
		return nil, err
	}
	if _, err := clientaddr.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return nil, fmt.Errorf("config: trusted-proxies: %w", err)
	}
	return c.serverTLS()
}

// etcdSettingsOnAFile refuses a server on a bbolt file given the settings
// of an etcd deployment: --store etcd://... left out (or CHILDCASE_STORE
// missing from a unit's environment) would otherwise start it on a new
// local file, with a new master key and admin, taking reports that no
// other instance sees. Only serve is refused: the offline commands are
// told --store bbolt on purpose where the environment holds the servers'
// etcd settings ("check --db backup.db --store bbolt").
func (c Config) etcdSettingsOnAFile() error {
	if c.IsEtcd() {
		return nil
	}
	prefix := c.EtcdPrefix
	if prefix == DefaultEtcdPrefix {
		prefix = "" // the default, which every configuration has
	}
	// The limits of a commit too: 0 is their default, anything else was
	// asked for, and would limit nothing on a file.
	limit := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	for _, s := range []struct{ name, value string }{
		{"etcd-prefix", prefix}, {"etcd-ca", c.EtcdCAFile}, {"etcd-cert", c.EtcdCertFile}, {"etcd-key", c.EtcdKeyFile},
		{"etcd-max-txn-ops", limit(int64(c.EtcdMaxTxnOps))}, {"etcd-max-request-bytes", limit(c.EtcdMaxRequestBytes)},
	} {
		if s.value != "" {
			return fmt.Errorf("config: %s: applies to an etcd store only, and the store is the bbolt file %s: "+
				"add --store etcd://host:port[,host:port...], or leave out the etcd settings", s.name, c.DBPath)
		}
	}
	return nil
}

// validateFolders refuses a database file (on bbolt), a master key file or
// a demo tokens file in a folder that does not exist, naming the flag,
// before anything is opened: a start would otherwise fail on the open of
// the file, or of the key file's or tokens file's temporary file, naming
// no flag, and after the database had been made (and the demo seeded). The folder is not made: a mistyped path stays a mistake.
func (c Config) validateFolders() error {
	files := []struct{ name, path string }{{"key-file", c.KeyFile}}
	if !c.IsEtcd() {
		files = append([]struct{ name, path string }{{"db", c.DBPath}}, files...)
	}
	if c.DemoTokensFile != "" {
		files = append(files, struct{ name, path string }{"demo-tokens", c.DemoTokensFile})
	}
	for _, f := range files {
		dir := filepath.Dir(f.path)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return MissingFolder("config: "+f.name, dir)
		}
		// A device, a pipe or a folder where the file belongs (a mistyped
		// /dev/null, the database's folder given for the file) failed at
		// its open, naming neither the flag nor what stood there ("open
		// /dev/null: invalid argument"). A link to a file is a file.
		fi, err := os.Stat(f.path)
		if err == nil && !fi.Mode().IsRegular() && f.name != "demo-tokens" {
			return fmt.Errorf("config: %s: %s is %s, not a file: give the path of the file (it is made when missing)", f.name, f.path, FileKind(fi.Mode()))
		}
		// The tokens file is written at every start, a new database made
		// where none is: in a folder the service's user cannot write in,
		// the tokens failed only once the key file and the database had
		// been made and the demo's tokens printed, and a new database
		// failed naming neither the flag nor the folder.
		if f.name == "demo-tokens" || (f.name == "db" && errors.Is(err, os.ErrNotExist)) {
			if err := canWriteIn(dir); err != nil {
				return fmt.Errorf("config: %s: cannot write in the folder %s (%w): the file is made there; give a folder the service's user may write in", f.name, dir, err)
			}
		}
	}
	return nil
}

// canWriteIn reports why a file cannot be made in dir, nil if it can:
// it makes one and removes it, which answers for permissions, access
// lists and read-only mounts alike, as no look at the mode bits does.
func canWriteIn(dir string) error {
	probe, err := os.CreateTemp(dir, ".childcase-write-check-*")
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			return pathErr.Err // the folder is named by the caller
		}
		return err
	}
	name := probe.Name()
	if err := probe.Close(); err != nil {
		_ = os.Remove(name)
		return err
	}
	return os.Remove(name)
}

// replaceableFile refuses a path that every start replaces by a rename
// (the demo tokens) when something other than a file stands there: a
// device, a pipe, a folder, or a link to one. Run as root, the rename
// replaced /dev/null itself, a newcomer's way to throw the file away. A
// link to a file, or to nothing, is replaced, never written through
// (writePrivateFile). Checked before anything is opened, so that a
// refused start makes nothing.
func replaceableFile(name, path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path) // through a link: /dev/stdout leads to a pipe or a terminal
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s: %s is %s, not a file: each start replaces the file there; give a file's name", name, path, FileKind(fi.Mode()))
}

// demoTokensOfTheirOwn refuses a --demo-tokens that is another file of
// the server's, however its path is spelt: each start replaces the
// tokens file, so one naming the master key file replaced the key with
// the tokens, and every sealed record could no longer be read; one
// naming the database replaced it with a text file.
func (c Config) demoTokensOfTheirOwn() error {
	if c.DemoTokensFile == "" {
		return nil
	}
	others := []struct{ flag, path string }{
		{"key-file", c.KeyFile}, {"policy", c.PolicyFile},
		{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"client-ca", c.ClientCA},
		{"etcd-ca", c.EtcdCAFile}, {"etcd-cert", c.EtcdCertFile}, {"etcd-key", c.EtcdKeyFile},
	}
	if !c.IsEtcd() {
		others = append(others, struct{ flag, path string }{"db", c.DBPath},
			struct{ flag, path string }{"db", c.DBPath + ".reserve"})
	}
	for _, o := range others {
		if o.path != "" && samePath(c.DemoTokensFile, o.path) {
			return fmt.Errorf("config: demo-tokens: %s is a file of --%s too, which each start would replace with the tokens: give the tokens a file of their own", c.DemoTokensFile, o.flag)
		}
	}
	return nil
}

// samePath reports whether two paths name one file: the same file when
// both exist (through links, or spelt otherwise), else the same absolute
// path.
func samePath(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		if fb, err := os.Stat(b); err == nil {
			return os.SameFile(fa, fb)
		}
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// FileKind names what a path that is no regular file is, for a refusal.
func FileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

// MinMaxDBSize is the smallest --max-db-size a server starts on.
const MinMaxDBSize = 1 << 20

// MinMaxSendMsgSize is the smallest --max-send-msg-size a server starts
// with: twice process.MaxCaseTextBytes, so that a case at its bound of free
// text is still answered whole, with room for the rest of it. Under it
// the service could not give its own answers: at 4 KiB gRPC reflection's
// descriptors were RESOURCE_EXHAUSTED, and a case's dossier could grow
// past what anyone can read.
const MinMaxSendMsgSize = 2 * process.MaxCaseTextBytes

// validateLimits refuses negative limits and those gRPC cannot take,
// naming the flag.
func (c Config) validateLimits() error {
	if err := refuseNegative(
		namedLimit{"max-recv-msg-size", int64(c.MaxRecvMsgSize)},
		namedLimit{"max-send-msg-size", int64(c.MaxSendMsgSize)},
		namedLimit{"max-concurrent-streams", int64(c.MaxConcurrentStreams)},
		namedLimit{"max-streams-per-user", int64(c.MaxStreamsPerUser)},
		namedLimit{"request-timeout", int64(c.RequestTimeout)},
		namedLimit{"keepalive-min-time", int64(c.KeepaliveMinTime)},
		namedLimit{"keepalive-max-connection-idle", int64(c.KeepaliveMaxConnectionIdle)},
		namedLimit{"keepalive-time", int64(c.KeepaliveTime)},
		namedLimit{"keepalive-timeout", int64(c.KeepaliveTimeout)},
		namedLimit{"max-db-size", c.MaxDBSize},
		namedLimit{"db-reserve", c.DBReserve},
		namedLimit{"outbox-retention", int64(c.OutboxRetention)},
	); err != nil {
		return err
	}
	// Under this a new database cannot even be made (its first commits and
	// its first admin), and the start would fail on a full database after
	// making the key file and the database: refused here, naming the flag.
	if c.MaxDBSize != 0 && c.MaxDBSize < MinMaxDBSize {
		return fmt.Errorf("config: max-db-size: %d is below %d (1 MiB), the least a database starts and works in (0 means no cap)", c.MaxDBSize, MinMaxDBSize)
	}
	if c.OutboxRetention != 0 && c.OutboxRetention < outbox.MinRetention {
		return fmt.Errorf("config: outbox-retention: %s is below %s, the least that leaves a watch time to resume before its notifications are pruned (0 means the default, %s)",
			c.OutboxRetention, outbox.MinRetention, outbox.DefaultRetention)
	}
	if c.MaxSendMsgSize != 0 && c.MaxSendMsgSize < MinMaxSendMsgSize {
		return fmt.Errorf("config: max-send-msg-size: %d is below %d (%s), the least that answers a case at its bound of free text (%s) and gRPC reflection (0 means the default, %s)",
			c.MaxSendMsgSize, MinMaxSendMsgSize, mib(MinMaxSendMsgSize), mib(process.MaxCaseTextBytes), mib(DefaultMaxSendMsgSize))
	}
	for _, l := range []struct {
		name string
		v    int
	}{
		{"max-recv-msg-size", c.MaxRecvMsgSize},
		{"max-send-msg-size", c.MaxSendMsgSize},
		{"max-concurrent-streams", c.MaxConcurrentStreams},
	} {
		if int64(l.v) > math.MaxInt32 {
			return fmt.Errorf("config: %s: %d is more than gRPC allows (%d)", l.name, l.v, math.MaxInt32)
		}
	}
	return nil
}

// mib writes a whole number of MiB as the flags take it, "8 MiB".
func mib(n int) string { return fmt.Sprintf("%d MiB", n>>20) }

// namedLimit is a limit's value under the name of its flag.
type namedLimit struct {
	name string
	v    int64
}

// refuseNegative names the first negative limit, and only that one: an
// operator told of a flag that is right would look there for a mistake.
func refuseNegative(limits ...namedLimit) error {
	for _, l := range limits {
		if l.v < 0 {
			return fmt.Errorf("config: %s: must not be negative (0 means the default)", l.name)
		}
	}
	return nil
}

// serverTLS loads the certificate, key and client CA into the TLS
// configuration both servers use; nil when TLS is off.
func (c Config) serverTLS() (*tls.Config, error) {
	switch {
	case c.TLSCert == "" && c.TLSKey == "" && c.ClientCA == "":
		return nil, nil
	case c.TLSCert == "" && c.TLSKey == "":
		return nil, errors.New("config: client-ca: needs tls-cert and tls-key (client certificates are only asked for over TLS)")
	case c.TLSKey == "":
		return nil, errors.New("config: tls-key: required with tls-cert")
	case c.TLSCert == "":
		return nil, errors.New("config: tls-cert: required with tls-key")
	}
	certPEM, err := os.ReadFile(c.TLSCert)
	if err != nil {
		return nil, fmt.Errorf("config: tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("config: tls-key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("config: tls-cert, tls-key: %s and %s: %w", c.TLSCert, c.TLSKey, err)
	}
	tc := &tls.Config{
		// 1.3 is preferred: Go negotiates the highest version both ends
		// support (its suites are all AEAD and not configurable). 1.2 stays
		// for older clients, with forward-secret AEAD suites only: Go's
		// default list still has the ECDHE CBC suites.
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites(),
		Certificates: []tls.Certificate{pair},
	}
	if c.ClientCA != "" {
		caPEM, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("config: client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("config: client-ca: no PEM certificate in %s", c.ClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// tls12Suites are the cipher suites offered over TLS 1.2: ECDHE key
// exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305 (AEAD), for
// ECDSA and RSA certificates alike.
func tls12Suites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// Options are what tests inject; production uses the zero value.
type Options struct {
	Clock  clock.Clock  // default: the system clock
	Logger *slog.Logger // default: slog.Default()
	// NoSync skips fsync; only for tests and benchmarks.
	NoSync bool
	// Console receives what an operator must read once: the bootstrap
	// admin token, demo tokens, a new key file. Default: os.Stderr.
	Console io.Writer
	// SchedulerPoll is how often the deadline scheduler looks at the clock
	// at least (default one second); tests with a fake clock shorten it.
	SchedulerPoll time.Duration
	// SearchCatchUpEvery is how often the leader indexes the cases left
	// marked between a write and its index entry (by another instance of
	// a shared store, or by a disk that filled in between); zero means
	// every 30 s.
	SearchCatchUpEvery time.Duration
	// CertCheckEvery is how often the certificates in use are checked
	// for their expiry after the start; zero means daily.
	CertCheckEvery time.Duration
	// OutboxPruneEvery is how often the leader prunes the outbox of what
	// is older than Config.OutboxRetention (and once as it starts to
	// lead); zero means every hour.
	OutboxPruneEvery time.Duration
	// WatchPoll bounds how long a WatchEvents stream waits without a
	// wake-up (default one second); tests lengthen it to prove wake-ups.
	WatchPoll time.Duration
	// StreamRecheck is how often an open server stream checks that its
	// caller's token is still valid (default grpcapi.DefaultStreamRecheck);
	// tests shorten it.
	StreamRecheck time.Duration
	// HTTPWriteTimeout bounds writing an ordinary REST answer (default
	// DefaultHTTPWriteTimeout); StreamWriteTimeout bounds each write of a
	// streaming one (default httpapi.DefaultStreamWriteTimeout), which
	// otherwise runs as long as it makes progress, and as well each
	// message of a gRPC server stream (grpcapi.Deps.StreamSendTimeout).
	// Tests shorten them.
	HTTPWriteTimeout   time.Duration
	StreamWriteTimeout time.Duration
	// RequestReadTimeout bounds the arrival of a request (default
	// DefaultRequestReadTimeout): an HTTP request's, and a gRPC call's
	// first message, which grpc-go reads before any interceptor, the
	// unary deadline's too, runs (grpcapi.Deps.RequestArrival). Tests
	// shorten it.
	RequestReadTimeout time.Duration
	// Leadership says when this instance runs the duties of one instance
	// at a time (the deadline scheduler, webhook delivery, the search
	// index's catch-up). Nil: AlwaysLeader, right for a bbolt file, which
	// one process opens at a time.
	Leadership Leadership
	// ConsoleAccounts signs people in to the web console; nil: the
	// identity service's password sign-in. Tests of the console's own
	// rules give another.
	ConsoleAccounts web.Accounts
	// Draining, when set, is called as a stop begins, once /readyz
	// answers 503 and before the drain delay and anything stops: tests
	// see what the server answers then.
	Draining func()
	// DrainTimer, when set, is the drain's wait: it is asked for the
	// drain delay and the stop goes on when the channel it returns
	// delivers (nil: a timer of that delay). Tests hold the drain open
	// with it, and see what is served meanwhile, without timing it.
	DrainTimer func(time.Duration) <-chan time.Time
	// Opening, when set, is called as a start begins to open the store,
	// with the address HTTP listens on: tests see what the port answers
	// while a start is slow (a migration, a cluster to join).
	Opening func(httpAddr string)
}

// Server is a running childcase.
type Server struct {
	cfg         Config
	log         *slog.Logger
	grpcAddr    net.Addr
	httpAddr    net.Addr
	metricsAddr net.Addr // nil: no metrics served
	tls         bool

	closers []func(context.Context) error // unwound in reverse by Stop
	// refused is set when Start fails, before it unwinds what it opened:
	// the store then removes the files its opening made (CloseRefused).
	refused bool

	store   *serverStore      // for the benchmarks' write counts (export_test.go)
	engine  *process.Engine   // for the tests' SettleScheduler (export_test.go)
	ids     *identity.Service // for the tests' staff of ended units (export_test.go)
	done    chan struct{}
	errOnce sync.Once
	err     error

	// started is set once Start has done all it does before serving;
	// draining once a stop has begun (see Readiness).
	started, draining atomic.Bool
	onDrain           func()
	drainTimer        func(time.Duration) <-chan time.Time
	notServing        func() // the public gRPC health's NOT_SERVING; nil before it exists
}

// handlerSwitch serves HTTP through the handler set last: the starting
// server's 503, then the API's.
type handlerSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSwitch) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// Readiness is what /readyz says of s: Starting until Start has done what
// must be done before serving, Draining from the moment a stop begins.
func (s *Server) Readiness() httpapi.Readiness {
	switch {
	case s.draining.Load():
		return httpapi.Draining
	case !s.started.Load():
		return httpapi.Starting
	}
	return httpapi.Ready
}

// GRPCAddr is the address gRPC listens on.
func (s *Server) GRPCAddr() string { return s.grpcAddr.String() }

// HTTPAddr is the address HTTP listens on.
func (s *Server) HTTPAddr() string { return s.httpAddr.String() }

// MetricsAddr is the address the metrics are served on, "" when none.
func (s *Server) MetricsAddr() string {
	if s.metricsAddr == nil {
		return ""
	}
	return s.metricsAddr.String()
}

// TLS reports whether gRPC and HTTP are served over TLS.
func (s *Server) TLS() bool { return s.tls }

// outboxPruneEvery is how often the leader prunes the outbox by default
// (Options.OutboxPruneEvery): a notification lives for days at least, so
// an hour late is nothing, and a round with nothing to prune reads a key.
const outboxPruneEvery = time.Hour

// outboxPruning is the leader's duty that prunes the outbox of what is
// older than retention, once as it starts to lead and then every
// Options.OutboxPruneEvery. A round that fails (a full database, the
// store out of reach) is logged and tried again at the next.
func outboxPruning(store datastore.Store, opts Options, retention time.Duration, hooks []policy.Webhook) func(context.Context) {
	every := opts.OutboxPruneEvery
	if every <= 0 {
		every = outboxPruneEvery
	}
	names := make([]string, 0, len(hooks))
	for _, h := range hooks {
		names = append(names, h.Name)
	}
	box := outbox.New(store)
	round := func(ctx context.Context) bool {
		n, err := box.Prune(ctx, opts.Clock.Now(), retention, names)
		switch {
		case err != nil && ctx.Err() == nil:
			opts.Logger.Error("outbox: pruning the notifications older than the retention failed; tried again later",
				"outbox_retention", retention.String(), "err", err)
		case n > 0:
			opts.Logger.Info("outbox: pruned the notifications older than the retention",
				"notifications", n, "outbox_retention", retention.String())
		}
		return false
	}
	return func(ctx context.Context) {
		round(ctx)
		ticking(ctx, every, round)
	}
}

// searchCatchUpEvery is how often the leader indexes the cases left marked
// between a write and its index entry.
const searchCatchUpEvery = 30 * time.Second

// gatewayBufSize is the buffer of the in-memory link between the REST
// gateway and its gRPC server, in each direction.
const gatewayBufSize = 1 << 20

// maxHeaderBytes bounds the headers of a request on either port: an HTTP
// request's, and a gRPC call's metadata on the public gRPC port. A bearer
// token is under 100 bytes; grpc-go's own bound, 16 MiB a call, let a
// client with no token hold 16 MiB of the server's memory in each health
// watch it kept open, 1,024 of them in all.
const maxHeaderBytes = 64 << 10

// httpMaxHeaderBytes is the MaxHeaderBytes of the HTTP servers that
// bounds a request line and its headers together at maxHeaderBytes: Go's
// server reads 4 KiB past its MaxHeaderBytes before it answers 431 (its
// "bufio slop", net/http's initialReadLimitSize), so a bound set to
// maxHeaderBytes itself took 68 KiB. Over HTTP/2 (TLS) Go adds no such
// slop: it bounds the headers at this plus 320 bytes, counting 32 bytes a
// field more, as gRPC's bound does, so a little under 64 KiB there.
const httpMaxHeaderBytes = maxHeaderBytes - 4<<10

// httpHeaderTimeout bounds the arrival of an HTTP request's line and
// headers (a TLS handshake's too), from the connection's first byte or
// the end of the request before it: a client that sends nothing, or its
// headers a byte at a time (slowloris), holds a connection, a goroutine
// and their buffers that long, not the whole request's bound. A request
// a person or a client makes sends its headers at once.
const httpHeaderTimeout = 10 * time.Second

// httpIdleTimeout closes an HTTP/1.1 connection kept alive with no
// request in it, or an HTTP/2 one with no stream, for this long.
const httpIdleTimeout = 2 * time.Minute

// headerTimeout is the bound on a request's headers given the bound on
// the whole request (Options.RequestReadTimeout): httpHeaderTimeout, or
// that bound when shorter, which tests set to see a stalled client cut.
func headerTimeout(request time.Duration) time.Duration {
	if request <= 0 {
		return httpHeaderTimeout
	}
	return min(httpHeaderTimeout, request)
}

// Start opens everything in order and starts serving. On error, what was
// already opened is closed again.
func Start(ctx context.Context, cfg Config, opts Options) (srv *Server, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// One line per request: what is logged while serving a request joins
	// its line (see grpcapi.NewRequestLineHandler).
	opts.Logger = slog.New(grpcapi.NewRequestLineHandler(opts.Logger.Handler()))
	// Before the configuration is checked and anything is opened, so that
	// a start refused there names its build too.
	opts.Logger.Info("childcase build", ReadBuildInfo().logAttrs()...)
	tlsCfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	// What an XLSX export killed with its process left: case rows in
	// $TMPDIR, outside the database's protections, which nothing else
	// would remove.
	for _, dir := range grpcapi.RemoveExportLeftovers() {
		opts.Logger.Info("removed the temporary folder of an export that did not finish", "removed", dir)
	}
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	if opts.Console == nil {
		opts.Console = os.Stderr
	}
	s := &Server{cfg: cfg, log: opts.Logger, tls: tlsCfg != nil, done: make(chan struct{}), onDrain: opts.Draining, drainTimer: opts.DrainTimer}
	defer func() {
		if err != nil {
			s.refused = true
			s.unwind(context.Background())
		}
	}()
	// The addresses are taken before anything is opened: a start that
	// cannot listen (an address in use, a port that is none) fails naming
	// the flag, before it makes a new database and prints its first
	// admin's token, or migrates or joins a store. The servers serve on
	// them once everything is in place.
	glis, err := s.listen("grpc-addr", cfg.GRPCAddr)
	if err != nil {
		return nil, err
	}
	hlis, err := s.listen("http-addr", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	var mlis net.Listener
	if cfg.MetricsAddr != "" {
		if mlis, err = s.listen("metrics-addr", cfg.MetricsAddr); err != nil {
			return nil, err
		}
	}

	reg, err := units.Load()
	if err != nil {
		return nil, err
	}
	cal, err := calendar.Load()
	if err != nil {
		return nil, err
	}
	warnCalendarEnd(opts.Logger, cal, opts.Clock.Now())
	pol, err := policy.Load(cfg.PolicyFile)
	if err == nil {
		err = pol.CheckUnits(reg)
	}
	if err != nil {
		// The policy's errors begin "policy: ", the name of the flag.
		return nil, fmt.Errorf("config: %w", err)
	}
	if opts.SchedulerPoll <= 0 {
		opts.SchedulerPoll = time.Second
	}
	if opts.HTTPWriteTimeout <= 0 {
		opts.HTTPWriteTimeout = DefaultHTTPWriteTimeout
	}
	if opts.StreamWriteTimeout <= 0 {
		opts.StreamWriteTimeout = httpapi.DefaultStreamWriteTimeout
	}
	if opts.RequestReadTimeout <= 0 {
		opts.RequestReadTimeout = DefaultRequestReadTimeout
	}

	// HTTP answers from here on: every request 503, /readyz's "not ready",
	// until the API's handler takes over below. What comes first may be
	// long (a migration, a cluster to join, the reform pass), and a probe
	// on a port that answered nothing timed out rather than read "not
	// ready"; nothing else is served before the store is open.
	var routes handlerSwitch
	trusted, _ := clientaddr.ParseTrustedProxies(cfg.TrustedProxies) // checked by validate
	routes.set(httpapi.StartingHandler(tlsCfg != nil, opts.Logger, trusted))
	hs := &http.Server{
		Handler:           httpapi.Recovered(opts.Logger, boundHeaders(&routes)),
		TLSConfig:         tlsCfg.Clone(), // nil: plain HTTP
		ReadHeaderTimeout: headerTimeout(opts.RequestReadTimeout),
		ReadTimeout:       opts.RequestReadTimeout,
		WriteTimeout:      opts.HTTPWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		// Over TLS the REST port speaks HTTP/2: a connection there takes
		// as many requests at once as a gRPC connection, not Go's 250.
		HTTP2:    &http.HTTP2Config{MaxConcurrentStreams: cfg.MaxConcurrentStreams},
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	s.httpAddr = hlis.Addr()
	go func() {
		var err error
		if tlsCfg != nil {
			err = hs.ServeTLS(hlis, "", "") // the certificate is in TLSConfig
		} else {
			err = hs.Serve(hlis)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	// Shut down once: where a stop unwinds it (below, before the API's
	// parts close), or here, last, when the start fails before that.
	var httpDown sync.Once
	shutdownHTTP := func(ctx context.Context) (err error) {
		httpDown.Do(func() { err = hs.Shutdown(ctx) })
		return err
	}
	s.push(shutdownHTTP)

	// The commit latency is observed from the first commit; the other
	// metrics are read from the services at each scrape (see serveMetrics).
	var mets *metrics.Metrics
	var commitTimes func(time.Duration)
	if cfg.MetricsAddr != "" {
		mets = metrics.New()
		commitTimes = mets.Committed
	}
	if opts.Opening != nil {
		opts.Opening(hlis.Addr().String())
	}
	opened, err := openStore(ctx, cfg, opts, pol.Fingerprint(), commitTimes)
	if err != nil {
		return nil, err
	}
	s.push(func(ctx context.Context) error {
		// A start refused after the database opened (a wrong key file)
		// leaves the folder as it found it: the reserve file it made goes,
		// and the database, when it made it.
		if s.refused && opened.file != nil {
			return opened.file.CloseRefused()
		}
		// On etcd the store it made goes.
		if s.refused && opened.madeOnEtcd {
			return opened.closeRefusedEtcd(ctx)
		}
		return opened.Close()
	})
	if opened.contenders != nil {
		if err := samePolicy(ctx, opened.contenders, pol.Fingerprint()); err != nil {
			return nil, err
		}
	}
	s.store = opened
	// Tracked: a call whose handler committed no event of its caller is
	// audited by the transport (grpcapi's callAudit), which learns it
	// from the store the domain writes through.
	var store = auditlog.Tracked(opened)
	auditLog := auditlog.New(store)
	if err := verifyAuditTail(ctx, auditLog, opts.Logger); err != nil {
		return nil, err
	}
	// Run last before the database closes, after every event of the run.
	s.push(func(ctx context.Context) error { logAuditHeadAtStop(ctx, auditLog, opts.Logger); return nil })

	console := func(msg string) { fmt.Fprintln(opts.Console, msg) }
	mk, err := openMasterKeys(ctx, cfg.KeyFile, store, opened.shared(), opts.Clock, opts.Logger, console)
	if err != nil {
		return nil, err
	}
	sealLater, sealRetryAt, err := sealClearTextAtStart(ctx, mk.vault, store, opts.Clock, opts.Logger)
	if err != nil {
		return nil, err
	}
	// The vault seals the TOTP secrets of console sign-in.
	ids := identity.New(store, reg, opts.Clock, opts.Logger).WithVault(mk.vault)
	s.ids = ids
	finder := search.New(search.Deps{Store: store, Units: reg, Vault: mk.vault, Clock: opts.Clock, Log: opts.Logger})
	engine := process.New(process.Deps{
		Store: store, Units: reg, Policy: pol, Calendar: cal, Vault: mk.vault, Clock: opts.Clock, Log: opts.Logger,
		WatchPoll: opts.WatchPoll, Search: finder, TokenValid: identity.StillValid,
	})
	s.engine = engine
	mk.search = finder
	// The indexer writes the index entries of the cases that writes
	// marked, a batch at a time. Its stop is unwound after the servers',
	// whose calls wait for it; what queued by then it writes before it
	// returns.
	indexerCtx, stopIndexer := context.WithCancel(context.Background())
	indexerDone := make(chan struct{})
	go func() {
		defer close(indexerDone)
		finder.RunIndexer(indexerCtx)
	}()
	s.push(func(context.Context) error { stopIndexer(); <-indexerDone; return nil })
	svc := intake.New(intake.Deps{Store: store, Units: reg, Vault: mk.vault, Clock: opts.Clock, Log: opts.Logger, Cases: engine, Search: finder})
	created, err := bootstrap(ctx, ids, opts.Console)
	if err != nil {
		return nil, err
	}
	if cfg.Demo {
		if err := demoMayRun(ctx, ids, created, cfg.StoreName()); err != nil {
			return nil, err
		}
		// A demo issues its users new tokens and passwords at every start;
		// on a full database it cannot, and serves with the last ones.
		switch err := seedDemo(ctx, ids, svc, engine, opts.Clock, opts.Console, cfg.DemoTokensFile); {
		case isDiskFull(err):
			console("Demo: the database is full, so no new demo tokens or passwords were issued: those of the last start still work.")
			opts.Logger.ErrorContext(ctx, "demo: no new tokens or passwords issued: the database is full", "err", err)
		case err != nil:
			return nil, err
		}
	}
	// The duties that run on one instance at a time, while it leads (see
	// Leadership; alone on a bbolt file, always).
	var duties []func(context.Context)
	every := opts.SearchCatchUpEvery
	if every <= 0 {
		every = searchCatchUpEvery
	}
	if sealLater {
		duties = append(duties, func(ctx context.Context) {
			ticking(ctx, every, sealClearTextRound(mk.vault, store, opts.Clock, opts.Logger, sealRetryAt))
		})
	}
	// The cases a crash left marked between their write and their index
	// entry, and, unless the index is recorded complete under the current
	// master's key, the cases stored before the search index existed or
	// indexed under a master key an interrupted rotation left behind, are
	// indexed in the background, a batch at a time, while the service
	// answers.
	catchUp := func(ctx context.Context, run func(context.Context) (int, error)) bool {
		n, err := run(ctx)
		if err != nil && ctx.Err() == nil {
			opts.Logger.Error("search index: indexing the cases not yet indexed failed", "err", err)
		} else if n > 0 {
			opts.Logger.Info("search index: indexed the cases not yet indexed", "cases", n)
		}
		// A case whose entry cannot be made is left out and marked: the
		// rounds that take the marks try it again, not a whole catch-up.
		return err == nil || search.OnlyLeftOut(err)
	}
	duties = append(duties, func(ctx context.Context) {
		caughtUp := catchUp(ctx, finder.CatchUp)
		// The leader takes marked cases up as it goes: on a shared store
		// another instance may be killed between a write and its index
		// entry; and on any store an entry written after its case's
		// commit fails when the disk filled in between, as the catch-up
		// at a start on a full disk does. Once space is freed writes go
		// on without a restart, and so must the search. A round with
		// nothing marked reads a key or two.
		//
		// Alone on its store, this instance runs every master key
		// rotation itself, which indexes every case: once a catch-up has
		// gone through, only the marks are left for the rounds, which
		// then never rebuild beside a rotation.
		round := func(ctx context.Context) {
			if caughtUp && !opened.shared() {
				catchUp(ctx, finder.IndexMarked)
				return
			}
			caughtUp = catchUp(ctx, finder.CatchUp)
		}
		ticking(ctx, every, func(ctx context.Context) bool { round(ctx); return false })
	})
	// The audit events of a store written before the log's index by
	// time get their entries in the background, so that the start does
	// not walk the whole log (cold start); a listing by time walks the
	// log until they have them all.
	duties = append(duties, func(ctx context.Context) {
		n, err := auditLog.IndexByTime(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			opts.Logger.Error("audit log: indexing the events by time failed; listings by time walk the log", "err", err)
		case err == nil && n > 0:
			opts.Logger.Info("audit log: the events written before its index by time have their entries", "events", n)
		}
	})
	// The deadline scheduler: catches up on what fell due while stopped
	// (or while no instance led), then fires each deadline event when it
	// falls due.
	duties = append(duties, func(ctx context.Context) { _ = engine.Run(ctx, opts.SchedulerPoll) })
	// The outbox is a feed, not the record (the audit log and the cases'
	// timelines are): what is older than the retention and delivered to
	// every webhook of the policy goes, a batch a transaction, so that it
	// does not grow for ever.
	duties = append(duties, outboxPruning(store, opts, cfg.OutboxRetention, pol.Webhooks))
	// Webhooks named in the policy get every notification, in order, from
	// the cursor stored for each.
	if len(pol.Webhooks) > 0 {
		// Each webhook is registered before any duty runs: a webhook new
		// to the store is delivered what comes after its registration,
		// and the scheduler of a new leader fires at once what fell due
		// while none led, which the webhook must not miss.
		//
		// On a full database a new webhook cannot be registered: the
		// server starts all the same, and its deliverer registers it once
		// there is room, where the outbox ended here (outbox.Start), so
		// that it misses nothing written after this start.
		box := outbox.New(store)
		for _, h := range pol.Webhooks {
			switch _, err := box.Start(ctx, h.Name); {
			case isDiskFull(err):
				opts.Logger.ErrorContext(ctx, "webhook "+h.Name+" cannot be registered yet: the database is full; "+
					"it is registered once space is freed, and is then delivered every notification written after this start", "webhook", h.Name, "err", err)
			case err != nil:
				return nil, fmt.Errorf("webhook %s: %w", h.Name, err)
			}
		}
		hooks := webhook.New(box, pol.Webhooks, engine.Hub().Wait, opts.Clock, opts.Logger, nil)
		if mets != nil {
			hooks.Failed = mets.WebhookFailed
		}
		duties = append(duties, hooks.Run)
	}
	leadership := opts.Leadership
	if leadership == nil {
		leadership = opened.leadership
	}
	if leadership == nil {
		leadership = AlwaysLeader{}
	}
	// On a shared store, what other instances append to the outbox wakes
	// this one's event streams as its own writes do.
	if opened.watchOutbox != nil {
		watchCtx, stopWatch := context.WithCancel(context.Background())
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			opened.watchOutbox(watchCtx, engine.Notify)
		}()
		s.push(func(context.Context) error { stopWatch(); <-watchDone; return nil })
	}
	leadCtx, stopLeading := context.WithCancel(context.Background())
	leadDone := make(chan struct{})
	go func() {
		defer close(leadDone)
		if err := leadership.Lead(leadCtx, leaderDuties(opts.Logger, opts.SchedulerPoll, duties...)); err != nil && leadCtx.Err() == nil {
			opts.Logger.Error("leadership: this instance no longer takes part in the election; "+
				"the deadline scheduler and webhook delivery run only on the other instances", "err", err)
		}
	}()
	// A leader resigns as it stops; with its store out of reach that could
	// take long, so the wait ends with the shutdown's time.
	s.push(func(ctx context.Context) error {
		stopLeading()
		select {
		case <-leadDone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("leadership: the background duties did not stop in time: %w", ctx.Err())
		}
	})
	if opened.contenders != nil && opts.Leadership == nil {
		if err := joinedWithSamePolicy(ctx, opened.contenders, opened.instanceID, pol.Fingerprint(), 20*time.Millisecond, 5*time.Second); err != nil {
			return nil, err
		}
	}

	// Page tokens are authenticated under a key derived from the master
	// key as it is at start: every instance with the same key file, and
	// this one after a restart, accept each other's tokens. After a
	// rotation of the master, instances restarted since refuse the tokens
	// of those that were not (clients start their listing again).
	pageKey := mk.vault.Keyring().Current().PageTokenKey()
	// One sign-in guard for both gRPC servers: a client's failures count
	// once, over gRPC or REST. Its closer runs after both servers have
	// stopped, and writes the refusals still counted.
	signIns := grpcapi.NewSignInGuard(auditLog, opts.Clock, opts.Logger)
	guardCtx, stopGuard := context.WithCancel(context.Background())
	guardDone := make(chan struct{})
	go func() {
		defer close(guardDone)
		signIns.Run(guardCtx, opts.SchedulerPoll)
	}()
	// The console's failed sign-ins are audited per account the same way;
	// what is still counted is written at shutdown.
	signInAuditDone := make(chan struct{})
	go func() {
		defer close(signInAuditDone)
		ids.RunAudit(guardCtx, opts.SchedulerPoll)
	}()
	s.push(func(context.Context) error { stopGuard(); <-guardDone; <-signInAuditDone; return nil })
	// A certificate that expires while the server runs is warned of a
	// month ahead, at the start and daily, by each instance of its own.
	certs := certsInUse(cfg, tlsCfg)
	warnOfExpiringCerts(ctx, opts.Logger, opts.Clock.Now(), certs)
	certsCtx, stopCerts := context.WithCancel(context.Background())
	certsDone := make(chan struct{})
	go func() {
		defer close(certsDone)
		watchCertExpiry(certsCtx, opts.Logger, opts.Clock, opts.CertCheckEvery, certs)
	}()
	s.push(func(context.Context) error { stopCerts(); <-certsDone; return nil })
	for _, p := range trusted {
		if p.Bits() == 0 {
			// Every address a proxy: the left-most X-Forwarded-For
			// entry, which the client writes itself, names the client.
			opts.Logger.Warn("trusted-proxies trusts every address: any client can name its own address in X-Forwarded-For, so the sign-in throttle and the audit of refused sign-ins read whatever it says; list only the reverse proxies",
				"trusted_proxies", p.String())
		}
	}

	deps := grpcapi.Deps{
		Intake: svc, Search: finder, Process: engine, Identity: ids,
		Statistics: stats.New(stats.Deps{Store: store, Units: reg, Vault: mk.vault, Clock: opts.Clock}), Audit: auditLog.WithVault(mk.vault), Keys: mk, Backup: mk.backupBetweenRotations(opened.backup),
		Units: reg, Clock: opts.Clock, Log: opts.Logger, PageTokenKey: pageKey,
		SignIns: signIns, TrustedProxies: trusted, Cases: svc,
		// One stream limiter for both servers: a user's streams count
		// once, over gRPC or REST.
		UnaryTimeout:   cfg.RequestTimeout,
		RequestArrival: opts.RequestReadTimeout,
		StreamRecheck:  opts.StreamRecheck,
		Streams:        grpcapi.NewStreamLimiter(cfg.MaxStreamsPerUser),
		// A gRPC client that stops reading a stream is cut off after the
		// bound a REST client's is (the gateway's server has none: see
		// grpcapi.Deps).
		StreamSendTimeout: opts.StreamWriteTimeout,
	}
	if mets != nil {
		deps.UnaryMetrics, deps.StreamMetrics = mets.UnaryInterceptor(), mets.StreamInterceptor()
	}
	// Message sizes bind both servers; the per-connection and keepalive
	// limits only the public one (the gateway's single in-memory
	// connection carries every REST request).
	sizes := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(cfg.MaxSendMsgSize),
	}

	// The public gRPC server: TLS, and client certificates, when configured.
	gopts := append(sizes[:len(sizes):len(sizes)],
		grpc.MaxConcurrentStreams(uint32(cfg.MaxConcurrentStreams)),
		grpc.MaxHeaderListSize(maxHeaderBytes),
		// A connection's TLS handshake and HTTP/2 preface within the
		// bound of a request's arrival, not grpc-go's two minutes: a
		// client that opens connections and says nothing holds each
		// no longer than one on the HTTP port.
		grpc.ConnectionTimeout(opts.RequestReadTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             cfg.KeepaliveMinTime,
			PermitWithoutStream: cfg.KeepalivePermitWithoutStream,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: cfg.KeepaliveMaxConnectionIdle,
			Time:              cfg.KeepaliveTime,
			Timeout:           cfg.KeepaliveTimeout,
		}),
	)
	if tlsCfg != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	gs, err := grpcapi.NewServer(deps, gopts...)
	if err != nil {
		return nil, err
	}
	if mets != nil {
		// Before serving: the interceptors read which methods exist.
		mets.InitializeRPC(gs.Server)
	}
	s.grpcAddr = glis.Addr()
	// The public server's health is a gRPC balancer's readiness: it goes
	// NOT_SERVING as the drain begins, with /readyz (see drain).
	s.notServing = gs.Health.Shutdown
	go func() {
		if err := gs.Serve(glis); err != nil {
			s.fail(fmt.Errorf("grpc server: %w", err))
		}
	}()
	// Its graceful stop begins with the HTTP server's shutdown (below),
	// so that neither port takes new calls while the other's finish; it
	// is waited for here, after the gateway's.
	public := newGRPCStop(gs)
	s.push(public.wait)

	// The gateway's own gRPC server, the same services and interceptors,
	// reached only over an in-memory listener: REST runs every interceptor
	// without its traffic leaving the process, and without needing a client
	// certificate when the public port asks for one.
	gdeps := deps
	gdeps.Gateway = true
	gdeps.StreamSendTimeout = 0 // REST's streaming answers are bound per HTTP write (httpapi)
	igs, err := grpcapi.NewServer(gdeps, sizes...)
	if err != nil {
		return nil, err
	}
	ilis := bufconn.Listen(gatewayBufSize)
	go func() {
		if err := igs.Serve(ilis); err != nil {
			s.fail(fmt.Errorf("gateway grpc server: %w", err))
		}
	}()
	s.push(newGRPCStop(igs).wait)

	conn, err := grpc.NewClient("passthrough:///childcase-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return ilis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()), // in memory
		// REST answers may be as large as gRPC ones.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxSendMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial gateway grpc server: %w", err)
	}
	s.push(func(context.Context) error { return conn.Close() })
	hopts := []httpapi.Option{httpapi.WithStreamWriteTimeout(opts.StreamWriteTimeout), httpapi.WithLogger(opts.Logger), httpapi.WithTrustedProxies(trusted),
		httpapi.WithReadiness(s.Readiness), httpapi.WithRouteAudit(grpcapi.NewRouteAudit(ids, signIns, svc, opts.Clock))}
	if tlsCfg != nil {
		hopts = append(hopts, httpapi.WithHSTS())
	}
	accounts := opts.ConsoleAccounts
	if accounts == nil {
		accounts = consoleAccounts{ids}
	}
	webConsole, err := web.New(web.Config{
		Conn: conn, Accounts: accounts, Passwords: ids, Clock: opts.Clock, Log: opts.Logger,
		SecureCookies: tlsCfg != nil, TrustedProxies: trusted,
		EnrolKey: mk.vault.Keyring().Current().EnrolKey(),
		// A refused session cookie counts as a refused token does, and a
		// refused password toward the same throttle per address.
		Refusals: signIns,
		Throttle: signIns,
	})
	if err != nil {
		return nil, err
	}
	// An admin's change that ends sessions ends them in the console at
	// once, not at their next API call.
	ids.OnSessionsEnded(webConsole.SessionsEnded)
	consoleCtx, stopConsole := context.WithCancel(context.Background())
	go webConsole.Run(consoleCtx)
	s.push(func(ctx context.Context) error {
		stopConsole()
		// After the HTTP server's shutdown (no more sign-ins), before
		// the database closes: each session's end is on its owner's
		// trail. Not within the stop's time, which requests still in
		// flight at its end have spent (every write would be refused
		// for it), but bounded on its own, so that a store that does
		// not answer (an etcd cluster out of reach) does not hold the
		// stop.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), consoleSessionsEndTimeout)
		defer cancel()
		webConsole.EndSessions(ctx)
		return nil
	})
	hopts = append(hopts, httpapi.WithConsole(webConsole.Handler(), web.StreamRoutes...))
	handler, err := httpapi.NewHandler(ctx, conn, hopts...)
	if err != nil {
		return nil, err
	}
	if cfg.Demo {
		console(fmt.Sprintf("Open the console at %s and sign in as a demo user with the password above.", consoleURL(cfg.HTTPAddr, hlis.Addr(), tlsCfg != nil)))
	}
	hs.RegisterOnShutdown(webConsole.Close) // ends the console's open streams as the HTTP server shuts down
	routes.set(handler)
	s.push(shutdownHTTP)
	// Health goes NOT_SERVING first on shutdown, on both servers (the
	// gateway's answers /healthz), so load balancers stop sending before
	// anything closes.
	s.push(func(context.Context) error {
		gs.Health.Shutdown()
		igs.Health.Shutdown()
		// Watches never finish by themselves: they end now, naming where
		// to resume, rather than hold the stop until its timeout.
		gs.EndWatches()
		igs.EndWatches()
		// The public gRPC port takes no new calls from now, as the HTTP
		// port, shut down next, takes no new requests.
		public.begin()
		return nil
	})

	if mets != nil {
		if err := s.serveMetrics(ctx, mlis, opts.RequestReadTimeout, mets, metricsSources(opened, engine, auditLog, signIns, pol.Webhooks, cal, opts.Clock.Now, opts.Logger, certs)); err != nil {
			return nil, err
		}
	}

	opts.Logger.Info("childcase serving",
		"grpc", s.GRPCAddr(), "http", s.HTTPAddr(), "metrics", s.MetricsAddr(), servingStore(cfg),
		"tls", s.tls, "client_certificates", cfg.ClientCA != "",
		"shutdown_timeout", cfg.ShutdownTimeout.String(), "drain_delay", cfg.DrainDelay.String(),
		"max_recv_msg_size", cfg.MaxRecvMsgSize, "max_send_msg_size", cfg.MaxSendMsgSize,
		"max_concurrent_streams", cfg.MaxConcurrentStreams, "max_streams_per_user", cfg.MaxStreamsPerUser,
		"request_timeout", cfg.RequestTimeout.String(), "max_db_size", cfg.MaxDBSize, "db_reserve", cfg.DBReserve,
		"outbox_retention", cfg.OutboxRetention.String(), "trusted_proxies", cfg.TrustedProxies)
	// Ready: the store is open and migrated, and what a start does before
	// serving is done (what runs in the background, as the search index's
	// catch-up, serves meanwhile).
	s.started.Store(true)
	return s, nil
}

// servingStore is where the serving line says the data lives: the file
// on bbolt, the cluster and prefix on etcd, where --db names nothing the
// server opens (the line said "db":"childcase.db" there, and an operator
// reading the journal looked for that file).
func servingStore(cfg Config) slog.Attr {
	if !cfg.IsEtcd() {
		return slog.Group("", "db", cfg.DBPath, "store", cfg.Store)
	}
	prefix := cfg.EtcdPrefix
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	return slog.Group("", "store", cfg.Store, "etcd_prefix", prefix)
}

// metricsSources are where the metrics are read at each scrape: the
// domain services' counts and the store's gauges.
func metricsSources(store *serverStore, engine *process.Engine, auditLog *auditlog.Log, signIns *grpcapi.SignInGuard,
	hooks []policy.Webhook, cal *calendar.Calendar, now func() time.Time, log *slog.Logger, certs []certInUse) metrics.Sources {
	ob := outbox.New(store)
	names := make([]string, 0, len(hooks))
	for _, h := range hooks {
		names = append(names, h.Name)
	}
	return metrics.Sources{
		Deadlines:     engine.OpenDeadlineCounts,
		Notifications: ob.Read,
		Position:      ob.Position,
		Tail:          ob.Tail,
		Webhooks:      names,
		Store:         store.gauges,
		AuditHead:     auditLog.HeadSeq,
		SignIns: func() metrics.SignIns {
			c := signIns.Counts()
			return metrics.SignIns{Failed: c.Failed, Throttled: c.Throttled}
		},
		HolidayData:  func() metrics.HolidayData { return holidayDataLeft(cal, now()) },
		Certificates: func() ([]metrics.CertExpiry, error) { return certExpiries(certs) },
		Log:          log,
	}
}

// holidayDataLeft says how many days are left, from today in Hanoi, to
// the end of the holiday data's announced years and of all their years:
// a count of working days that reaches past the first is on estimates,
// past the second on weekends and fixed-date holidays alone.
func holidayDataLeft(cal *calendar.Calendar, now time.Time) metrics.HolidayData {
	today := vntime.DateOf(now)
	_, last := cal.Years()
	left := func(year int) int {
		end := vntime.Date{Year: year, Month: time.December, Day: 31}
		return int(end.Start().Sub(today.Start()).Hours() / 24)
	}
	return metrics.HolidayData{AnnouncedDaysLeft: left(cal.Announced()), DaysLeft: left(last)}
}

// serveMetrics serves /metrics, and nothing else, on the metrics address:
// plain HTTP, meant for localhost or a network only Prometheus reaches.
func (s *Server) serveMetrics(ctx context.Context, lis net.Listener, readTimeout time.Duration, m *metrics.Metrics, src metrics.Sources) error {
	if err := m.Read(ctx, src); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	s.metricsAddr = lis.Addr()
	// The metrics port is usually reached only by a scraper, but it is a
	// port: it takes the public HTTP server's bounds on a request's
	// headers, its arrival and an idle connection, so that no client holds
	// a megabyte of headers or a connection open on it for ever.
	ms := &http.Server{
		Handler:           httpapi.Recovered(s.log, boundHeaders(mux)),
		ReadHeaderTimeout: headerTimeout(readTimeout),
		ReadTimeout:       readTimeout,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := ms.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("metrics server: %w", err))
		}
	}()
	s.push(func(ctx context.Context) error { return ms.Shutdown(ctx) })
	return nil
}

// sealClearTextAtStart seals the free text a database written before case
// free text was sealed keeps in the clear, before anything is served, and
// reports whether some is left for the leader (sealClearTextRound). On a
// full database it cannot be: the server starts all the same (such a case
// opens in the clear, as before the upgrade, and any step on it seals
// it), and the leader seals the rest once there is room. A case that
// cannot be sealed (a damaged page, a failure or panic of its own) is
// passed over and the others sealed: the server starts, and the leader
// tries it again from retryAt, sealRetryEvery later.
func sealClearTextAtStart(ctx context.Context, v *vault.Vault, store datastore.Store, clk clock.Clock, log *slog.Logger) (later bool, retryAt time.Time, err error) {
	switch n, err := v.SealClearText(ctx, store); {
	case isDiskFull(err):
		log.ErrorContext(ctx, "the free text older versions stored in the clear cannot be sealed: the database is full; "+
			"the server starts with it in the clear, and seals it once space is freed", "sealed", n, "err", err)
		return true, time.Time{}, nil
	case errors.Is(err, vault.ErrLeftInTheClear):
		log.ErrorContext(ctx, sealPassedOver, "sealed", n, "err", err)
		return true, clk.Now().Add(sealRetryEvery), nil
	case err != nil:
		return false, time.Time{}, fmt.Errorf("seal the free text of older cases: %w", err)
	case n > 0:
		log.InfoContext(ctx, "sealed the free text older versions stored in the clear", "cases", n)
	}
	return false, time.Time{}, nil
}

// sealRetryEvery is how long the leader waits before it tries again the
// cases whose free text it could not seal: each try fails, and logs, for
// as long as the file or the code is not mended, as the scheduler's tries
// of a damaged case do (process.repeatLogEvery).
const sealRetryEvery = time.Hour

// sealPassedOver is the log message of a sealing of clear text that
// passed over cases it could not seal.
const sealPassedOver = "the free text older versions stored in the clear could not be sealed in some cases, which were passed over " +
	"and stay in the clear: the others are sealed, and these are tried again every hour"

// sealClearTextRound is a round of the leader's duty that seals the free
// text a start left in the clear (on a full database, or in cases it
// passed over), for ticking: it is done once every case is sealed. While
// the database is full it tries at every round; once cases were passed
// over, not before sealRetryEvery, and not before heldUntil (the start's
// retryAt).
func sealClearTextRound(v *vault.Vault, store datastore.Store, clk clock.Clock, log *slog.Logger, heldUntil time.Time) func(context.Context) bool {
	return func(ctx context.Context) bool {
		if clk.Now().Before(heldUntil) {
			return false
		}
		n, err := v.SealClearText(ctx, store)
		switch {
		case err == nil:
			log.InfoContext(ctx, "sealed the free text older versions stored in the clear", "cases", n)
			return true
		case ctx.Err() != nil, isDiskFull(err):
			// Stopped, or no room yet: the next round tries again.
		case errors.Is(err, vault.ErrLeftInTheClear):
			heldUntil = clk.Now().Add(sealRetryEvery)
			log.ErrorContext(ctx, sealPassedOver, "sealed", n, "err", err)
		default:
			log.ErrorContext(ctx, "sealing the free text older versions stored in the clear failed; tried again", "sealed", n, "err", err)
		}
		return false
	}
}

// ticking calls round every interval until it says it is done or ctx
// ends: the rounds of a duty that waits for something (room on the disk,
// cases to index).
func ticking(ctx context.Context, every time.Duration, round func(context.Context) (done bool)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if round(ctx) {
				return
			}
		}
	}
}

// consoleSessionsEndTimeout bounds how long a stop spends ending the
// console's sessions on the audit trail.
const consoleSessionsEndTimeout = 5 * time.Second

// auditTailAtStart is how many of the newest audit events are verified at
// every start: enough to cover the last moments before a stop, bounded so
// that a long log does not slow the start (the whole chain is checked by
// `childcase audit verify`, `check` and VerifyAuditLog).
const auditTailAtStart = 1000

// verifyAuditTail checks the newest audit events against the stored head
// and warns the operator when they do not verify. The service still starts:
// the log is evidence to investigate, and refusing to serve would not
// repair it. A file damaged where they lie is another matter: every call
// appends an audit event there, so the start is refused, naming the file
// and childcase check.
func verifyAuditTail(ctx context.Context, l *auditlog.Log, log *slog.Logger) error {
	res, err := l.VerifyTail(ctx, auditTailAtStart)
	switch {
	case errors.Is(err, model.ErrDamaged):
		return fmt.Errorf("start: verifying the newest audit events: %w", err)
	case err != nil:
		log.Warn("audit log: cannot verify the newest events at start", "err", err)
	case res.Problem != nil:
		log.Warn("audit log: the newest events do NOT verify (a link of the chain broken, or an event missing from an index the listings read: see problem); the log may have been tampered with. "+
			"Keep a copy of the database and verify the whole chain (POST /v1/auditEvents:verify, or `childcase audit verify` with the service stopped)",
			"problem", res.Problem.String(), "broken_seq", res.Problem.Seq, "head_seq", res.HeadSeq, "checked", res.Checked)
	default:
		log.Info("audit log: the newest events verify", "checked", res.Checked, "head_seq", res.HeadSeq, "head_hash", hex.EncodeToString(res.HeadHash))
	}
	return nil
}

// logAuditHeadAtStop puts the audit log's head in the service's log, out
// of the database: events cut from the end while the service is stopped,
// with the stored head set back, leave a whole chain, and this head,
// given to a verification as the head noted, finds them. A head that
// cannot be read is logged as such: the stop goes on.
func logAuditHeadAtStop(ctx context.Context, l *auditlog.Log, log *slog.Logger) {
	head, err := l.Head(ctx)
	if err != nil {
		log.Warn("audit log: cannot read the head at stop", "err", err)
		return
	}
	log.Info("audit log: the head at stop", "head_seq", head.Seq, "head_hash", hex.EncodeToString(head.Hash))
}

// grpcStop is the graceful stop of a gRPC server: begun once (it takes no
// new calls and lets those in flight finish), and waited for, cut short
// when the shutdown timeout runs out.
type grpcStop struct {
	gs      *grpcapi.Server
	once    sync.Once
	stopped chan struct{}
}

func newGRPCStop(gs *grpcapi.Server) *grpcStop {
	return &grpcStop{gs: gs, stopped: make(chan struct{})}
}

// begin starts the graceful stop, once.
func (g *grpcStop) begin() {
	g.once.Do(func() {
		go func() { g.gs.GracefulStop(); close(g.stopped) }()
	})
}

// wait begins the stop if need be and waits for it until ctx ends, then
// stops the server outright: the calls in flight had their time.
func (g *grpcStop) wait(ctx context.Context) error {
	g.begin()
	select {
	case <-g.stopped:
	case <-ctx.Done():
		g.gs.Stop()
	}
	return nil
}

func (s *Server) push(f func(context.Context) error) { s.closers = append(s.closers, f) }

// listen takes addr, the value of the flag name, for a server of s; the
// listener is closed as s unwinds (the server that serves on it closes it
// first, once it runs).
func (s *Server) listen(name, addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	s.push(func(context.Context) error {
		_ = lis.Close() // closed already by its server when it ran
		return nil
	})
	return lis, nil
}

func (s *Server) unwind(ctx context.Context) error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// fail records a serving error; Wait returns it.
func (s *Server) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		close(s.done)
	})
}

// Done is closed when a server stopped on its own with an error.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the error that closed Done.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Stop shuts down in reverse order of start, once drained (see drain):
// health NOT_SERVING on both gRPC servers and the public gRPC server's
// graceful stop begun (no new calls), HTTP shutdown, the gateway's
// connection and in-memory gRPC server, the public gRPC server's calls in
// flight, then the database, giving in-flight requests up to the
// configured timeout.
func (s *Server) Stop() error {
	s.drain()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.unwind(ctx)
	s.log.Info("childcase stopped")
	return err
}

// drain takes s out of a load balancer's rotation before anything stops:
// /readyz answers 503 from now and the public gRPC health NOT_SERVING (a
// gRPC balancer's readiness: it went on sending to a server whose health
// said SERVING until the port closed), and s goes on serving everything
// else, /healthz and the API included, for the drain delay, so that the
// balancer sends no more requests before the ports close. A server that
// failed on its own does not wait.
func (s *Server) drain() {
	if s.draining.Swap(true) {
		return
	}
	if s.notServing != nil {
		s.notServing()
	}
	s.log.Info("childcase draining: /readyz answers 503", "drain_delay", s.cfg.DrainDelay.String())
	if s.onDrain != nil {
		s.onDrain()
	}
	if s.cfg.DrainDelay <= 0 {
		return
	}
	wait := s.drainTimer
	if wait == nil {
		wait = time.After // its timer is collected once unreferenced
	}
	select {
	case <-wait(s.cfg.DrainDelay):
	case <-s.done:
	}
}

// Run starts the service and serves until ctx is cancelled (a signal) or a
// server fails, then shuts down.
func Run(ctx context.Context, cfg Config, opts Options) error {
	s, err := Start(ctx, cfg, opts)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	return errors.Join(s.Err(), s.Stop())
}

// bootstrap creates the first admin of a new database and prints their
// token, once: there is no other way in.
// It reports whether it did, that is whether the database is new.
func bootstrap(ctx context.Context, ids *identity.Service, console io.Writer) (bool, error) {
	tok, created, err := ids.Bootstrap(ctx)
	if err != nil || !created {
		return false, err
	}
	fmt.Fprintf(console, "New database: created the admin user %q. Its token is shown only this once (expires %s):\n%s\n",
		identity.BootstrapUserID, tok.Token.ExpireTime.Format(time.RFC3339), tok.Secret)
	return true, nil
}

// MissingFolder is the refusal of a path, named by what (a setting or a
// flag), whose folder does not exist: the service makes no folders, so
// that a mistyped path is not a new, empty place.
func MissingFolder(what, dir string) error {
	return fmt.Errorf("%s: the folder %s does not exist; make it first (mkdir -p -m 0700 %s)", what, dir, dir)
}

// warnCalendarEnd tells whoever runs the server, at start, that the
// holiday data end within a year of now, or have ended: a deadline
// counted past them is counted without that year's movable holidays and
// swapped days (README, Deadlines), so the next year's notices must be
// added to the data before deadlines reach it. A year is the notice a
// Tết of the next year needs: its notice comes out in the autumn before.
func warnCalendarEnd(log *slog.Logger, cal *calendar.Calendar, now time.Time) {
	_, last := cal.Years()
	end := vntime.Date{Year: last + 1, Month: time.January, Day: 1}.Start()
	if announced := cal.Announced(); announced < last {
		// The years before the data end may be estimates: a count into
		// them is marked so (README, Deadlines), but only the yearly
		// notice, out in the autumn before, makes it right.
		provisional := announced + 1
		if start := (vntime.Date{Year: provisional, Month: time.January, Day: 1}).Start(); !start.After(now.AddDate(1, 0, 0)) {
			log.Warn("the holiday data for "+strconv.Itoa(provisional)+" are provisional: a deadline counted into "+strconv.Itoa(provisional)+
				" is counted on estimated days off, without the swaps and make-up Saturdays its notice adds; replace them with the year's notice in internal/domain/calendar/data",
				"provisional_year", provisional, "start", start)
		}
	}
	if end.After(now.AddDate(1, 0, 0)) {
		return
	}
	log.Warn("the holiday data end with "+strconv.Itoa(last)+": a deadline counted past "+strconv.Itoa(last)+
		" is counted without the movable holidays and swapped days of its year; add the year's notices to internal/domain/calendar/data",
		"last_year", last, "end", end)
}
