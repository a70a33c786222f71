package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
)

// The management commands open the database file directly, so they run
// while the server is stopped (bbolt allows one process at a time). A
// running server is managed through its AdminService (see README).

const manageUsage = `Usage:
  childcase users add    --db FILE --id ID --name NAME --role ROLE --unit UNIT [--phone P] [--ttl 2160h]
                         [--create]   (make --db when it does not exist, with this user as its first)
                         [--http-addr HOST:PORT] [--tls-cert FILE]   (for the set-password link it prints)
  childcase users list   --db FILE
  childcase users revoke --db FILE --id ID     disable the user and revoke all their tokens
  childcase users add|list|revoke --store etcd://HOST:PORT[,...] [--etcd-* flags] ...
                         the same on an etcd store, while its servers run (an admin with no token gets one back)
  childcase keys rotate  --db FILE --key-file FILE          (server stopped)
  childcase keys rotate  --addr HOST:PORT --token ADMIN_TOKEN [--ca-cert FILE] [--client-cert FILE --client-key FILE]   (running server)
  childcase audit verify --db FILE [--noted-head SEQ:HASH]   (a head an earlier verification printed)
`

// errAuditBroken makes "audit verify" exit non-zero on a broken chain.
var errAuditBroken = errors.New("the audit log failed verification")

// helpAsked reports whether args ask a command with subcommands for its
// usage, which it then prints to stdout, exiting 0 as "childcase -h" does.
func helpAsked(args []string, usage string, stdout io.Writer) bool {
	if len(args) == 0 || (args[0] != "-h" && args[0] != "-help" && args[0] != "--help" && args[0] != "help") {
		return false
	}
	fmt.Fprint(stdout, usage)
	return true
}

func users(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if helpAsked(args, manageUsage, stdout) {
		return flag.ErrHelp
	}
	if len(args) < 1 {
		fmt.Fprint(stderr, manageUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := app.DefaultConfig()
	stringFlag(fs, &cfg.DBPath, "db", forBbolt+"path of the database file (server stopped)")
	offlineStoreFlags(fs, &cfg, "an etcd store whose users to manage, with the etcd flags of its servers (which may go on running)")
	var u model.User
	var role string
	ttl := 90 * 24 * time.Hour
	create := false
	srv := app.DefaultConfig() // the server's HTTP address, for the set-password link
	switch sub {
	case "add":
		fs.StringVar(&u.ID, "id", "", "user id, e.g. lan.nguyen")
		fs.StringVar(&u.DisplayName, "name", "", "display name")
		fs.StringVar(&role, "role", "", "one of "+roleNames)
		fs.StringVar(&u.Unit, "unit", "", "unit: units/{code}@{valid_from}, policeUnits/{id}, orgs/hotline-111, orgs/social-work-centre or orgs/system")
		fs.StringVar(&u.Phone, "phone", "", "work phone (shown to police as the officer's contact)")
		fs.DurationVar(&ttl, "ttl", ttl, "lifetime of the first token")
		stringFlag(fs, &srv.HTTPAddr, "http-addr", "the server's HTTP address, for the set-password link")
		stringFlag(fs, &srv.TLSCert, "tls-cert", "the server's certificate file: set when it serves TLS, so the link is https")
		fs.BoolVar(&create, "create", false, forBbolt+"create --db when it does not exist: a new database whose first user is this one (serve then creates no admin user)")
	case "revoke":
		fs.StringVar(&u.ID, "id", "", "user id")
	case "list":
	default:
		unknownSubcommand(stderr, "users", []string{sub}, manageUsage)
		return errUsage
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := storeFlagsFit(fs, cfg, false); err != nil {
		return err
	}
	// A flag the command cannot do without is a usage error, named before
	// the database is opened: users revoke without --id opened it to
	// answer `user "": not found`, and users add without its flags said
	// only that "" is not a role.
	var required map[string]string
	switch sub {
	case "add":
		required = map[string]string{"id": u.ID, "name": u.DisplayName, "role": role, "unit": u.Unit}
	case "revoke":
		required = map[string]string{"id": u.ID}
	}
	if err := requireFlags(fs, stderr, manageUsage, required); err != nil {
		return err
	}
	if sub == "add" {
		// Checked before the database is opened (and perhaps created).
		// As typed: in any case, and as the API spells it (ROLE_...).
		r, ok := model.ParseRole(strings.ToUpper(strings.TrimSpace(role)))
		if !ok {
			return usageError{fmt.Errorf("--role: %q is not a role: one of %s", role, roleNames)}
		}
		u.Role = r
		// The domain reads a ttl of 0 as one left out (90 days); here
		// it was typed, so it is refused as the API refuses "0s"
		// (grpcapi's givenTTL), not turned into a token of 90 days.
		if ttl == 0 {
			ttl = -time.Nanosecond
		}
	}
	db := cfg.DBPath
	if !create && !cfg.IsEtcd() {
		// A mistyped --db would otherwise become a new database holding
		// only this user, which the server on the real file never sees.
		if err := existingDatabase("users "+sub, db); err != nil {
			if sub == "add" {
				return fmt.Errorf("%w; to start a new database run childcase serve (which creates it and its admin user), or add --create to make it with this user as its first", err)
			}
			return err
		}
	}
	// A database --create makes for a user it then refuses is taken
	// away again: a stray empty file would be a new database to the
	// next serve.
	_, statErr := os.Stat(db)
	made := create && errors.Is(statErr, os.ErrNotExist)
	off, err := app.OpenOfflineStore(ctx, cfg, "users "+sub, slog.New(slog.NewTextHandler(stderr, nil)), stderr)
	if err != nil {
		return err
	}
	defer off.Close()
	p := off.Principal("users " + sub)
	switch sub {
	case "add":
		created, tok, link, err := off.Identity.CreateUser(ctx, p, u, ttl, idempotency.Request{})
		if err != nil {
			if made && off.Close() == nil {
				_ = os.Remove(db)
			}
			return inFlagWords(err, userAddFlags)
		}
		fmt.Fprintf(stdout, "Created %s (%s, %s).\nToken (shown once, expires %s):\n%s\n",
			model.UserName(created.ID), created.Role, created.Unit, tok.Token.ExpireTime.Format(time.RFC3339), tok.Secret)
		fmt.Fprintf(stdout, "Link to set the console password (once, expires %s):\n%s\n",
			link.ExpireTime.Format(time.RFC3339), passwordLinkURL(srv, link.Secret))
	case "revoke":
		if _, err := off.Identity.DisableUser(ctx, p, u.ID, idempotency.Request{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Disabled %s and revoked all their tokens.\n", model.UserName(u.ID))
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tROLE\tUNIT\tSTATE\tNAME")
		after := ""
		for {
			// Audited as an admin's list through the API is (user.list).
			us, next, err := off.Identity.ListUsersFor(ctx, p, after, 500)
			if err != nil {
				return err
			}
			for _, u := range us {
				state := "active"
				if u.Disabled() {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Role, u.Unit, state, u.DisplayName)
			}
			if next == "" {
				break
			}
			after = next
		}
		return tw.Flush()
	}
	return nil
}

// userAddFlags are the flags of "users add" by the field of the domain's
// (and the API's) errors each fills.
var userAddFlags = map[string]string{
	"user_id": "--id", "user.display_name": "--name", "user.role": "--role",
	"user.unit": "--unit", "user.phone": "--phone", "token_ttl": "--ttl",
}

// inFlagWords says a refusal of a field the command fills from a flag in
// the command's words, naming the flag the person typed rather than the
// API's field: "--name is required" for "user.display_name: display_name
// is required". Any other error is as it was.
func inFlagWords(err error, flags map[string]string) error {
	var fe *model.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	flag, ok := flags[fe.Field]
	if !ok {
		return err
	}
	// A description that starts with the field's own name ("display_name
	// is at most 200 characters") says it of the flag instead.
	leaf := fe.Field[strings.LastIndex(fe.Field, ".")+1:]
	if rest, ok := strings.CutPrefix(fe.Description, leaf+" "); ok {
		return fmt.Errorf("%s %s", flag, rest)
	}
	return fmt.Errorf("%s: %s", flag, fe.Description)
}

// passwordLinkURL is where the console serves a set-password link: the
// server's HTTP address, https when it serves TLS. A server that listens on
// every interface is reached by the name on its certificate (the first
// that is not a wildcard), or, without one, as localhost.
func passwordLinkURL(srv app.Config, secret string) string {
	scheme := "http"
	if srv.TLSCert != "" {
		scheme = "https"
	}
	host := srv.HTTPAddr
	if h, port, err := net.SplitHostPort(host); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort(certName(srv.TLSCert, "localhost"), port)
	}
	return scheme + "://" + host + "/password/" + secret
}

// certName is the first DNS name, not a wildcard, of the first certificate
// in the PEM file at path, or otherwise (no file, no such name) fallback:
// the link is printed all the same, and serve checks the file.
func certName(path, fallback string) string {
	if path == "" {
		return fallback
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fallback
		}
		for _, name := range cert.DNSNames {
			if !strings.Contains(name, "*") {
				return name
			}
		}
		return fallback
	}
	return fallback
}

func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if helpAsked(args, manageUsage, stdout) {
		return flag.ErrHelp
	}
	if len(args) < 1 || args[0] != "rotate" {
		unknownSubcommand(stderr, "keys", args, manageUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := app.DefaultConfig()
	var addr, token string
	var rt remoteTLS
	stringFlag(fs, &cfg.DBPath, "db", "path of the bbolt database file (server stopped)")
	stringFlag(fs, &cfg.KeyFile, "key-file", "path of the master key file (server stopped)")
	stringFlag(fs, &addr, "addr", "gRPC address of a running server: rotate there, without stopping it")
	stringFlag(fs, &token, "token", "an admin's bearer token, with --addr")
	remoteTLSFlags(fs, &rt)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if addr == "" {
		if err := remoteOnlyFlags(fs, "keys rotate", "re-wraps the file --db under --key-file, with the server stopped"); err != nil {
			return err
		}
	} else if named := namedFlags(fs, "db", "key-file"); len(named) > 0 {
		// The server rotates its own key file, on its machine; a file
		// named here as well would be silently ignored, and the operator
		// would believe they had rotated that one.
		a := addrSource(fs)
		return usageError{fmt.Errorf("%s, --%s: %s rotates the master key of the server at %s, in its own key file; give %s, or --db and --key-file to rotate a stopped server's, not both",
			a, strings.Join(named, ", --"), a, addr, a)}
	}
	if addr != "" && token == "" {
		fmt.Fprintf(stderr, "keys rotate: --token is required with --addr (an admin's token; on a server, in CHILDCASE_TOKEN)\n\n%s", manageUsage)
		return errUsage
	}
	if addr != "" {
		requestID := newRemoteRequestID("keys-rotate")
		id, n, err := rotateRemote(ctx, addr, token, requestID, rt)
		if err != nil {
			return err
		}
		// The server's key file is named on its machine, not here.
		fmt.Fprintf(stdout, "Rotated to master key %s: %s re-wrapped. The server keeps the old key file beside its key file, as <key file>.retired-<old id>, for older backups. Request id %s (its keys.rotate event in the audit log).\n",
			id, counted(n, "data key"), requestID)
		return nil
	}
	id, retired, n, err := rotateOffline(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Rotated to master key %s: %s re-wrapped. The old key file is kept as %s for older backups.\n", id, counted(n, "data key"), retired)
	return nil
}

func rotateOffline(ctx context.Context, cfg app.Config, stderr io.Writer) (id, retired string, n int, err error) {
	if err := existingDatabase("keys rotate", cfg.DBPath); err != nil {
		return "", "", 0, err
	}
	off, err := app.OpenOffline(cfg.DBPath, "keys rotate", slog.New(slog.NewTextHandler(stderr, nil)), stderr)
	if err != nil {
		return "", "", 0, err
	}
	defer off.Close()
	return off.RotateMasterKey(ctx, cfg.KeyFile)
}

// rotateRemote asks a running server to rotate its master key, so reads
// never stop. requestID is sent as the call's request id, which its
// audit event names, and as its request_id, so that the server answers
// a retry of the same call with the rotation it made.
func rotateRemote(ctx context.Context, addr, token, requestID string, rt remoteTLS) (string, int, error) {
	conn, err := rt.dial(addr)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close()
	ctx = remoteCallContext(ctx, token, requestID)
	resp, err := pb.NewAdminServiceClient(conn).RotateMasterKey(ctx, &pb.RotateMasterKeyRequest{RequestId: requestID})
	if err != nil {
		return "", 0, fmt.Errorf("rotate on %s (request id %s): %w", addr, requestID, rt.explain(err))
	}
	return resp.GetMasterKeyId(), int(resp.GetRewrappedKeys()), nil
}

// requireFlags refuses, as a usage error (exit 2), the flags of required
// (by name, with their values) left empty, naming them in the order the
// command's -h lists them, with the command's usage.
func requireFlags(fs *flag.FlagSet, stderr io.Writer, usage string, required map[string]string) error {
	var empty []string
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := required[f.Name]; ok && v == "" {
			empty = append(empty, "--"+f.Name)
		}
	})
	if len(empty) == 0 {
		return nil
	}
	verb := "is"
	if len(empty) > 1 {
		verb = "are"
	}
	fmt.Fprintf(stderr, "%s: %s %s required\n\n%s", fs.Name(), strings.Join(empty, ", "), verb, usage)
	return errUsage
}

// unknownSubcommand prints the usage of cmd, after naming the subcommand
// it does not have when one was given (args[0]).
func unknownSubcommand(stderr io.Writer, cmd string, args []string, usage string) {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "childcase %s: unknown subcommand %q\n\n", cmd, args[0])
	}
	fmt.Fprint(stderr, usage)
}

// openOfflineCmd parses the flags of an offline command that takes only
// --db, and opens that database for it, read-write (its migration and
// its own events go into it); it returns its path too.
func openOfflineCmd(name, dbUsage string, args []string, stderr io.Writer) (*app.Offline, string, error) {
	db, err := offlineCmdDB(name, dbUsage, args, stderr, nil)
	if err != nil {
		return nil, "", err
	}
	off, err := app.OpenOffline(db, name, slog.New(slog.NewTextHandler(stderr, nil)), stderr)
	return off, db, err
}

// offlineCmdDB parses the flags of an offline command and returns the
// --db it is to open, which exists and may be a database, without
// opening it (audit verify opens it read-only, openOfflineCmd
// read-write). more, when set, registers the command's own flags and
// returns their check, which runs once they are parsed and before the
// database is opened, so that a bad value is refused (as a usage error,
// naming its flag) with nothing opened.
func offlineCmdDB(name, dbUsage string, args []string, stderr io.Writer, more func(fs *flag.FlagSet) func() error) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := app.DefaultConfig().DBPath
	stringFlag(fs, &db, "db", dbUsage)
	check := func() error { return nil }
	if more != nil {
		check = more(fs)
	}
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if err := check(); err != nil {
		fmt.Fprintln(stderr, err)
		return "", errUsage
	}
	if err := existingDatabase(name, db); err != nil {
		return "", err
	}
	return db, nil
}

// roleNames are the roles users add takes, as --role -h and a refusal
// list them.
var roleNames = func() string {
	names := make([]string, 0, len(model.Roles))
	for _, r := range model.Roles {
		names = append(names, r.String())
	}
	return strings.Join(names, ", ")
}()

// existingDatabase refuses a --db that does not exist for a command that
// reads a database: opening it would create an empty one, and the command
// would report on that (audit verify: "chain intact") instead of saying
// that the path is wrong, or that the servers run on etcd (where these
// commands do not reach: use the API of an instance).
//
// A file that is no database is refused the same way, naming --db: an
// empty one, which bbolt would make into a new database (the commands
// then wrote a database into the file they were given and reported on
// it, and users add printed a live token for it), and a folder or a
// device, which the open would refuse in words that name no flag.
func existingDatabase(command, db string) error {
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		hint := etcdInstead[command]
		if strings.HasPrefix(command, "users ") {
			hint = etcdInstead["users"]
		}
		return fmt.Errorf("--db: %s does not exist: %s reads an existing bbolt file%s", db, command, hint)
	}
	return databaseKind("db", db)
}

// etcdInstead says, after a --db that does not exist, how a command
// reaches a store on etcd, where the path may have been a mistake for it:
// each its own way (the refusal said "users take --store" to keys rotate
// and audit verify too).
var etcdInstead = map[string]string{
	"users":        " (on etcd, users take --store etcd://... and the servers' etcd flags)",
	"keys rotate":  " (on etcd, or while the server runs, rotate through it: keys rotate --addr HOST:PORT --token ...)",
	"audit verify": " (on etcd, or while the server runs, an auditor verifies through the API: POST /v1/auditEvents:verify)",
}

// databaseKind refuses, naming its flag, a path that exists but cannot be
// a database a command is to read: anything but a regular file, or an
// empty one. It does not read the file: what a non-empty file holds is
// for the open (or check) to say.
func databaseKind(flagName, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("--%s: %w", flagName, err)
	case fi.IsDir():
		return fmt.Errorf("--%s: %s is a folder, not a database file", flagName, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("--%s: %s is not a regular file (%s), so not a database file", flagName, path, fi.Mode().Type())
	case fi.Size() == 0:
		return fmt.Errorf("--%s: %s is empty (0 bytes): it is not a database, and nothing was written to it (a server makes a new database; a backup is put in place with childcase restore)", flagName, path)
	}
	return nil
}

// notedHeadFlag declares --noted-head on fs, for audit verify and check:
// the chain and the head stored beside it cannot show events cut from the
// end by someone who set that head back too; a head printed by an earlier
// verification (or check, or backup), kept elsewhere, can. The function
// it returns, run once fs is parsed, reads the flag into noted.
func notedHeadFlag(fs *flag.FlagSet, noted *auditlog.Head) func() error {
	var text string
	stringFlag(fs, &text, "noted-head", "SEQ:HASH, a head printed by an earlier verification: the log must still hold that event with that hash")
	return func() error {
		// Given empty (a script's variable its note did not fill) is
		// not "none noted": refused, the verification would answer OK
		// without the check asked for.
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "noted-head" })
		if text == "" && !given {
			return nil
		}
		var err error
		if *noted, err = auditlog.ParseHead(text); err != nil {
			if !given { // from the environment twin: name what was set
				return fmt.Errorf("%s: %w", envName("noted-head"), err)
			}
			return fmt.Errorf("--noted-head: %w", err)
		}
		return nil
	}
}

func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if helpAsked(args, manageUsage, stdout) {
		return flag.ErrHelp
	}
	if len(args) < 1 || args[0] != "verify" {
		unknownSubcommand(stderr, "audit", args, manageUsage)
		return errUsage
	}
	var noted auditlog.Head
	db, err := offlineCmdDB("audit verify", "path of the bbolt database file", args[1:], stderr, func(fs *flag.FlagSet) func() error {
		return notedHeadFlag(fs, &noted)
	})
	if err != nil {
		return err
	}
	// Read only, as check reads: a verification of a backup leaves the
	// backup as it was taken, and answers its own head.
	trail, closer, err := app.OpenAuditLog(db, "audit verify")
	if err != nil {
		return err
	}
	defer closer.Close()
	res, err := trail.VerifyNoted(ctx, noted)
	if err != nil {
		return err
	}
	head := auditlog.Head{Seq: res.HeadSeq, Hash: res.HeadHash}
	if res.Problem != nil {
		fmt.Fprintf(stdout, "BROKEN at seq %d: %s (%s verified before it; head seq %d)\n", res.Problem.Seq, res.Problem.Reason, counted(res.Checked, "event"), res.HeadSeq)
		return errAuditBroken
	}
	against := ""
	if noted.Seq != 0 {
		against = ", and holds the head noted, seq " + strconv.FormatUint(noted.Seq, 10)
	}
	fmt.Fprintf(stdout, "OK: %s, chain intact up to the recorded head (seq %d, hash %x)%s; note it (--noted-head %s) to find events cut from the end later\n",
		counted(res.Checked, "event"), res.HeadSeq, res.HeadHash, against, head)
	return nil
}
