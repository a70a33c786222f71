// Package cli is the childcase command line: it parses subcommands, flags and
// their CHILDCASE_* environment twins, and calls package app. It must not
// hold service logic.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/childcase/childcase/internal/app"
)

// EnvPrefix prefixes the environment twin of every flag: --grpc-addr is
// CHILDCASE_GRPC_ADDR.
const EnvPrefix = "CHILDCASE_"

const usage = `childcase: case management for child-protection reports in Hanoi.

Usage:
  childcase serve [flags]             run the gRPC and HTTP servers
  childcase users add|list|revoke     manage users: of a file with its server stopped, or of an etcd store
  childcase keys rotate               re-wrap every data key under a new master key
  childcase audit verify              verify the audit log's hash chain
  childcase backup --to FILE          copy the database: hot through a running server (--addr), or its file
  childcase restore --from FILE       put a checked backup in place (server stopped)
  childcase check                     check a database or backup file: structure, indexes, audit chain
  childcase migrate-store --from SRC --to DST   move a database between a bbolt file and etcd, and check the copy
  childcase stats rebuild             recompute the statistics counters from the records (server stopped)
  childcase load --db FILE --cases N  fill a new database with N synthetic cases (benchmarks, stress tests)
  childcase version (or --version)    print the version, VCS revision and Go version of this binary
  childcase totp SECRET               print the current TOTP code of a base32 secret (the demo's, without an app)

Run "childcase COMMAND -h" (or "childcase help COMMAND") for the flags
of any command above, "childcase serve -h" for the server's.
`

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// The usage a newcomer asks for with -h goes to stdout, where "serve
	// -h | grep tls" finds it; a refusal's usage stays on stderr.
	stderr = commandOutput{Writer: stderr, stdout: stdout}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "users":
		err = users(ctx, args[1:], stdout, stderr)
	case "keys":
		err = keysCmd(ctx, args[1:], stdout, stderr)
	case "audit":
		err = auditCmd(ctx, args[1:], stdout, stderr)
	case "backup":
		err = backupCmd(ctx, args[1:], stdout, stderr)
	case "restore":
		err = restoreCmd(ctx, args[1:], stdout, stderr)
	case "check":
		err = checkCmd(ctx, args[1:], stdout, stderr)
	case "migrate-store":
		err = migrateStoreCmd(ctx, args[1:], stdout, stderr)
	case "stats":
		err = statsCmd(ctx, args[1:], stdout, stderr)
	case "load":
		err = loadCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		// The flag spellings too: they are what a newcomer types first.
		err = versionCmd(args[1:], stdout, stderr)
	case "totp":
		err = totpCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		// "childcase help serve", as git and go take it: that command's -h.
		if len(args) > 1 && !slices.Contains([]string{"help", "-h", "--help"}, args[1]) {
			return Main(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "childcase: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		// A bare errUsage was said where it arose (with the usage); one
		// with words of its own (a bad environment value) is said here.
		if err != errUsage {
			fmt.Fprintf(stderr, "childcase: %v\n", err)
		}
		return 2
	}
	fmt.Fprintf(stderr, "childcase: %v\n", err)
	return 1
}

var errUsage = errors.New("usage")

// usageError is a refusal of how the command was given, as errUsage is
// (exit 2), that says what is wrong itself: an environment twin's value
// is as much the operator's input as the flag's, and a script telling a
// mistyped setting from a failed run by the code must see the same code
// for both.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == errUsage }

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := serveConfig(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	eff := cfg.WithDefaults()
	log.Info("effective configuration",
		"db", cfg.DBPath, "store", cfg.Store, "etcd_prefix", cfg.EtcdPrefix, "etcd_ca", cfg.EtcdCAFile,
		"etcd_cert", cfg.EtcdCertFile, "etcd_key", cfg.EtcdKeyFile,
		"etcd_max_txn_ops", eff.EtcdMaxTxnOps, "etcd_max_request_bytes", eff.EtcdMaxRequestBytes, "grpc_addr", cfg.GRPCAddr, "http_addr", cfg.HTTPAddr, "metrics_addr", cfg.MetricsAddr,
		"shutdown_timeout", cfg.ShutdownTimeout.String(), "drain_delay", cfg.DrainDelay.String(),
		"tls_cert", cfg.TLSCert, "tls_key", cfg.TLSKey, "client_ca", cfg.ClientCA,
		"key_file", cfg.KeyFile, "policy", cfg.PolicyFile,
		"demo", cfg.Demo, "demo_tokens", cfg.DemoTokensFile,
		"max_recv_msg_size", eff.MaxRecvMsgSize, "max_send_msg_size", eff.MaxSendMsgSize,
		"max_concurrent_streams", eff.MaxConcurrentStreams, "max_streams_per_user", eff.MaxStreamsPerUser,
		"request_timeout", eff.RequestTimeout.String(),
		"keepalive_min_time", eff.KeepaliveMinTime.String(), "keepalive_permit_without_stream", eff.KeepalivePermitWithoutStream,
		"keepalive_max_connection_idle", eff.KeepaliveMaxConnectionIdle.String(),
		"keepalive_time", eff.KeepaliveTime.String(), "keepalive_timeout", eff.KeepaliveTimeout.String(),
		"max_db_size", eff.MaxDBSize, "db_reserve", eff.DBReserve, "outbox_retention", eff.OutboxRetention.String(), "trusted_proxies", cfg.TrustedProxies)
	if exposed := plainOnANetwork(cfg); len(exposed) > 0 {
		log.Warn("serving in plain text on a network address: bearer tokens, passwords and children's data cross it in clear; give --tls-cert and --tls-key, or keep the addresses on localhost",
			"flags", exposed)
	}
	if !cfg.IsEtcd() {
		for _, f := range removeLeftoverRestores(cfg.DBPath) {
			log.Info("removed a temporary file of a restore that did not finish", "removed", f)
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg, app.Options{Logger: log, Console: stderr})
}

// plainOnANetwork names the flags of the API's addresses (--grpc-addr,
// --http-addr) that a server without TLS would listen on beyond the
// loopback: every interface (":8111", "0.0.0.0:8111"), an address of the
// machine's or a name other than localhost. The defaults are on
// localhost, and the README says to give a certificate before exposing
// the service; a start that exposes it in clear text says so.
func plainOnANetwork(cfg app.Config) []string {
	if cfg.TLSCert != "" {
		return nil
	}
	var flags []string
	for _, a := range []struct{ flag, addr string }{{"grpc-addr", cfg.GRPCAddr}, {"http-addr", cfg.HTTPAddr}} {
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			continue // refused at start, naming the flag
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() || strings.EqualFold(host, "localhost") {
			continue
		}
		flags = append(flags, a.flag)
	}
	return flags
}

// serveConfig builds the configuration of serve from the defaults, the
// environment and the flags, in that order of precedence (last wins).
func serveConfig(args []string, stderr io.Writer) (app.Config, error) {
	cfg := app.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stringFlag(fs, &cfg.DBPath, "db", forBbolt+"path of the database file (created when missing)")
	stringFlag(fs, &cfg.Store, "store", "where the data lives, a `store`: bbolt (the file at --db) or etcd://host:port[,host:port...] (an etcd cluster several instances share)")
	etcdFlags(fs, &cfg)
	stringFlag(fs, &cfg.GRPCAddr, "grpc-addr", "address for the gRPC server")
	stringFlag(fs, &cfg.HTTPAddr, "http-addr", "address for the web console (/), the REST gateway (/v1/), /openapi.json, /healthz and /readyz")
	stringFlag(fs, &cfg.MetricsAddr, "metrics-addr", "address for the Prometheus metrics (/metrics); none when empty")
	durationFlag(fs, &cfg.ShutdownTimeout, "shutdown-timeout", "how long in-flight requests may run after SIGINT/SIGTERM")
	durationFlag(fs, &cfg.DrainDelay, "drain-delay", "after SIGINT/SIGTERM, how long to go on serving with /readyz answering 503 before the shutdown, so that a load balancer stops sending first; none when empty or 0")
	stringFlag(fs, &cfg.TLSCert, "tls-cert", "PEM certificate chain file: serve gRPC and HTTP over TLS (with --tls-key)")
	stringFlag(fs, &cfg.TLSKey, "tls-key", "PEM private key file of --tls-cert")
	stringFlag(fs, &cfg.KeyFile, "key-file", "master key file (created with mode 0600 when missing on a new database)")
	stringFlag(fs, &cfg.PolicyFile, "policy", "deadline policy file (JSON); the shipped defaults when empty")
	boolFlag(fs, &cfg.Demo, "demo", "seed demo users for every role and demo cases, and print their tokens, console password and TOTP secret")
	stringFlag(fs, &cfg.DemoTokensFile, "demo-tokens", "with --demo, also write the demo tokens to this `file` (mode 0600) as shell assignments, for \". ./file\"")
	stringFlag(fs, &cfg.ClientCA, "client-ca", "PEM CA file: require client certificates it signed on gRPC and HTTPS (needs --tls-cert)")
	// Limits: 0 takes the default named in the help.
	sizeFlag(fs, &cfg.MaxRecvMsgSize, "max-recv-msg-size", "largest gRPC request message: a `size` in bytes, or with KiB, MiB or GiB (0: "+formatSize(app.DefaultMaxRecvMsgSize)+")")
	sizeFlag(fs, &cfg.MaxSendMsgSize, "max-send-msg-size", "largest gRPC response message, a `size` of at least "+formatSize(app.MinMaxSendMsgSize)+" (0: "+formatSize(app.DefaultMaxSendMsgSize)+")")
	intFlag(fs, &cfg.MaxConcurrentStreams, "max-concurrent-streams", fmt.Sprintf("calls at once on one gRPC connection, and requests on one HTTP/2 connection of the REST port (0: %d)", app.DefaultMaxConcurrentStreams))
	intFlag(fs, &cfg.MaxStreamsPerUser, "max-streams-per-user", fmt.Sprintf("server streams (watch, backup, export) one user may hold open at once (0: %d)", app.DefaultMaxStreamsPerUser))
	durationFlag(fs, &cfg.RequestTimeout, "request-timeout", "the server's deadline for every unary call (0: "+app.DefaultRequestTimeout.String()+")")
	durationFlag(fs, &cfg.OutboxRetention, "outbox-retention", "how long a notification stays in the outbox for watches and webhooks, at least 24h, 90 days by default; older ones every webhook has acknowledged are pruned (0: 2160h)")
	durationFlag(fs, &cfg.KeepaliveMinTime, "keepalive-min-time", "clients may ping at most this often, or are disconnected (0: "+app.DefaultKeepaliveMinTime.String()+")")
	boolFlag(fs, &cfg.KeepalivePermitWithoutStream, "keepalive-permit-without-stream", "allow client pings while no call is open")
	durationFlag(fs, &cfg.KeepaliveMaxConnectionIdle, "keepalive-max-connection-idle", "close a gRPC connection idle this long (0: "+app.DefaultKeepaliveMaxConnectionIdle.String()+")")
	durationFlag(fs, &cfg.KeepaliveTime, "keepalive-time", "ping a client whose connection was quiet this long (0: "+app.DefaultKeepaliveTime.String()+")")
	durationFlag(fs, &cfg.KeepaliveTimeout, "keepalive-timeout", "close the connection when a ping is not answered within this (0: "+app.DefaultKeepaliveTimeout.String()+")")
	sizeFlag(fs, &cfg.MaxDBSize, "max-db-size", forBbolt+"cap on the database file, a `size`; writes that would grow it further are refused (0: no cap)")
	stringFlag(fs, &cfg.TrustedProxies, "trusted-proxies", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For names the client (none: the connection's peer is the client)")
	sizeFlag(fs, &cfg.DBReserve, "db-reserve", "room kept back from ordinary writes for the audit events of reads, a `size`; at most a quarter of --max-db-size (0: "+formatSize(app.DefaultDBReserve)+")")
	if err := parse(fs, args); err != nil {
		return app.Config{}, err
	}
	// A server's environment is its configuration as much as its command
	// line (a unit's Environment=): a twin for the other store counts.
	if err := storeFlagsFit(fs, cfg, true); err != nil {
		return app.Config{}, err
	}
	return cfg, nil
}

// The help of a flag that applies to one store only begins with that
// store's words; storeFlagsFit reads them, so that what the help says and
// what is refused cannot part.
const (
	forEtcd  = "with an etcd store, "
	forBbolt = "with a bbolt store, "
)

// storeFlagsFit refuses, as a usage error, a flag given to a command whose
// store is the other one (an --etcd-max-request-bytes on the bbolt file, a
// --db on etcd): it would do nothing, and the operator would believe it in
// force, or that the command worked on the store it names. A flag counts
// when given on the command line, and with withEnv when its environment
// twin is set too; a store that is neither is left for the store's own
// refusal.
func storeFlagsFit(fs *flag.FlagSet, cfg app.Config, withEnv bool) error {
	onEtcd := cfg.IsEtcd()
	if !onEtcd && cfg.Store != "" && cfg.Store != app.StoreBolt {
		return nil
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	here := "the bbolt file " + cfg.DBPath
	if onEtcd {
		here = cfg.Store
		if !given["store"] {
			here += " (from " + envName("store") + ")"
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		belongs, fix := "", ""
		switch {
		case err != nil:
			return
		case strings.HasPrefix(f.Usage, forEtcd) && !onEtcd:
			belongs, fix = "an etcd store", "give --store etcd://host:port[,host:port...] for the etcd store"
		case strings.HasPrefix(f.Usage, forBbolt) && onEtcd:
			belongs, fix = "a bbolt store", "give --store bbolt (or an empty "+envName("store")+") for the file"
		default:
			return
		}
		name := "--" + f.Name
		switch {
		case given[f.Name]:
		case withEnv && hasTwin(f) && os.Getenv(envName(f.Name)) != "":
			name = envName(f.Name) + " (--" + f.Name + ")"
		default:
			return
		}
		err = usageError{fmt.Errorf("%s applies to %s only, and the store here is %s: leave it out, or %s", name, belongs, here, fix)}
	})
	return err
}

// etcdFlags declares the settings of an etcd store, shared by serve and
// the commands that work on a store offline.
func etcdFlags(fs *flag.FlagSet, cfg *app.Config) {
	stringFlag(fs, &cfg.EtcdPrefix, "etcd-prefix", forEtcd+"the key `prefix` of this deployment: /name/ or /name/name/..., names of letters, digits, '.', '_' or '-'")
	stringFlag(fs, &cfg.EtcdCAFile, "etcd-ca", forEtcd+"PEM `file` of the CA that signed the members' certificates (TLS)")
	stringFlag(fs, &cfg.EtcdCertFile, "etcd-cert", forEtcd+"PEM client certificate `file` (with --etcd-key)")
	stringFlag(fs, &cfg.EtcdKeyFile, "etcd-key", forEtcd+"PEM private key `file` of --etcd-cert")
	intFlag(fs, &cfg.EtcdMaxTxnOps, "etcd-max-txn-ops", fmt.Sprintf(forEtcd+"most operations in one commit; the cluster's --max-txn-ops must allow it (0: %d)", app.DefaultEtcdMaxTxnOps))
	sizeFlag(fs, &cfg.EtcdMaxRequestBytes, "etcd-max-request-bytes", forEtcd+"largest commit, a `size` from 4KiB to 1GiB; the cluster's --max-request-bytes must allow it (0: "+formatSize(app.DefaultEtcdMaxRequestBytes)+")")
}

// parse applies environment twins first, so that flags given on the command
// line win over the environment, which wins over the defaults.
func parse(fs *flag.FlagSet, args []string) error {
	// Each bad twin's refusal, by flag: one whose flag the command line
	// gives is not said, since the command line's value wins over it.
	type envRefusal struct {
		flag string
		err  error
	}
	var envErrs []envRefusal
	fs.VisitAll(func(f *flag.Flag) {
		// Only flags declared with an environment twin (stringFlag and
		// friends name it in their usage) read the environment: a stray
		// CHILDCASE_ID must not fill in "users add --id".
		if !hasTwin(f) {
			return
		}
		if v := os.Getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErrs = append(envErrs, envRefusal{f.Name, usageError{fmt.Errorf("%s: %w (the environment twin of --%s; %q lists the flags)",
					envName(f.Name), envValueError(f, v, err), f.Name, "childcase "+fs.Name()+" -h")}})
			}
		}
	})
	// A bad environment value is said after the command line is read, so
	// that -h still prints the usage (the operator asking for it may be
	// looking for the very flag whose twin is wrong).
	// The flag package says a number, duration or bool it cannot read
	// only as "parse error" or "value out of range": say what the flag
	// takes instead (flagWords).
	out := fs.Output()
	var said bytes.Buffer
	fs.SetOutput(flagWords{w: &said, fs: fs})
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		out = helpOutput(out)
	}
	if _, werr := out.Write(said.Bytes()); werr != nil && err == nil {
		return werr
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, r := range envErrs {
		if !given[r.flag] {
			return r.err
		}
	}
	if fs.NArg() > 0 {
		// "childcase check backup.db" is what a newcomer types first: say
		// that the file goes with a flag, and that flags after such an
		// argument were not read either.
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\nchildcase %s takes flags only (a file too, with its flag, such as --db FILE), and reads none after the first argument that is not one; \"childcase %s -h\" lists them\n",
			strings.Join(fs.Args(), " "), fs.Name(), fs.Name())
		return errUsage
	}
	return nil
}

// commandOutput is the stderr Main gives a command, which also knows the
// command's stdout, for the usage asked for with -h.
type commandOutput struct {
	io.Writer // stderr
	stdout    io.Writer
}

// helpOutput is where the usage asked for with -h goes: the command's
// stdout when w is Main's stderr, else w itself.
func helpOutput(w io.Writer) io.Writer {
	if c, ok := w.(commandOutput); ok {
		return c.stdout
	}
	return w
}

// envValueError says what is wrong with an environment twin's value. The
// flag package reports a bool, a number or a duration it cannot read only
// as "parse error" or "value out of range"; an operator reading the
// environment's refusal needs the value and what the variable takes.
func envValueError(f *flag.Flag, v string, err error) error {
	if said, ok := takes(f, err); ok {
		return fmt.Errorf("%q is %s", v, said)
	}
	return err // a size, a string: its own message names the value
}

// takes says, in the product's words, why a value the flag package
// refused with err does not fit flag f: "not a whole number", "too large
// or too small a number". ok is false for an error of another kind (a
// size's own message, which says it already).
func takes(f *flag.Flag, err error) (said string, ok bool) {
	g, isGetter := f.Value.(flag.Getter)
	if !isGetter {
		return "", false
	}
	switch err.Error() {
	case "value out of range": // the flag package's errRange
		return "too large or too small a number", true
	case "parse error": // its errParse
	default:
		return "", false
	}
	switch g.Get().(type) {
	case bool:
		return "not true or false", true
	case int, int64:
		return "not a whole number", true
	case uint, uint64:
		return "not a whole number of 0 or more", true
	case float64:
		return "not a number", true
	case time.Duration:
		return "not a duration such as 30s, 15m or 2h", true
	}
	return "", false
}

// flagRefusal is the line the flag package writes when it cannot read a
// flag's value: the value, the flag, and its words for why.
var flagRefusal = regexp.MustCompile(`^(invalid (?:boolean )?value "(?:[^"\\]|\\.)*" for (?:flag )?-([A-Za-z0-9_-]+): )(parse error|value out of range)\n$`)

// flagWords is a flag set's output that says the flag package's refusal
// of a value as takes does ("... for flag -shutdown-timeout: not a
// duration such as 30s, 15m or 2h"), and passes everything else (the
// usage) through.
type flagWords struct {
	w  io.Writer
	fs *flag.FlagSet
}

func (o flagWords) Write(p []byte) (int, error) {
	if m := flagRefusal.FindSubmatch(p); m != nil {
		if f := o.fs.Lookup(string(m[2])); f != nil {
			if said, ok := takes(f, errors.New(string(m[3]))); ok {
				if _, err := fmt.Fprintf(o.w, "%s%s\n", m[1], said); err != nil {
					return 0, err
				}
				return len(p), nil
			}
		}
	}
	return o.w.Write(p)
}

// hasTwin says whether f was declared with an environment twin
// (stringFlag and friends name it at the end of its usage).
func hasTwin(f *flag.Flag) bool {
	return strings.HasSuffix(f.Usage, "(env "+envName(f.Name)+")")
}

func envName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func stringFlag(fs *flag.FlagSet, p *string, name, help string) {
	fs.StringVar(p, name, *p, help+" (env "+envName(name)+")")
}

func boolFlag(fs *flag.FlagSet, p *bool, name, help string) {
	fs.BoolVar(p, name, *p, help+" (env "+envName(name)+")")
}

func durationFlag(fs *flag.FlagSet, p *time.Duration, name, help string) {
	fs.DurationVar(p, name, *p, help+" (env "+envName(name)+")")
}

func intFlag(fs *flag.FlagSet, p *int, name, help string) {
	fs.IntVar(p, name, *p, help+" (env "+envName(name)+")")
}

// sizeFlag declares a byte size: a plain number of bytes, or one with a
// KiB, MiB or GiB suffix (1024-based; KB, MB and GB are read the same).
func sizeFlag[T int | int64](fs *flag.FlagSet, p *T, name, help string) {
	fs.Var(sizeValue[T]{p}, name, help+" (env "+envName(name)+")")
}

type sizeValue[T int | int64] struct{ p *T }

func (v sizeValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return formatSize(int64(*v.p))
}

func (v sizeValue[T]) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("%q is too large", s)
	}
	*v.p = T(n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"GB", 30}, {"MB", 20}, {"KB", 10}, {"G", 30}, {"M", 20}, {"K", 10}, {"B", 0}}

func parseSize(s string) (int64, error) {
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range sizeUnits {
		if len(num) > len(u.suffix) && strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, shift = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with KiB, MiB or GiB)", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

// formatSize writes n in the largest unit that divides it exactly.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
