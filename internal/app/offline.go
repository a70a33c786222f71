package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// Offline is the database opened by a management command (users, keys,
// audit) while no server runs: bbolt allows one process at a time, so a
// running server is managed through its AdminService instead. The users
// commands also open an etcd store (OpenOfflineStore), which servers
// share meanwhile.
type Offline struct {
	Identity *identity.Service
	Audit    *auditlog.Log

	store   datastore.Store
	file    *boltstore.Store // nil on etcd: what only a file's commands do (stats rebuild)
	close   func() error
	clock   clock.Clock
	log     *slog.Logger
	console io.Writer
}

// OpenOffline opens the database at dbPath for a management command (its
// name, "users add", is the actor of the audit event of a migration the
// opening makes).
func OpenOffline(dbPath, command string, log *slog.Logger, console io.Writer) (*Offline, error) {
	reg, err := units.Load()
	if err != nil {
		return nil, err
	}
	clk := clock.System{}
	store, err := boltstore.Open(dbPath, boltstore.Options{Migrated: migrationAudit(clk, command)})
	if errors.Is(err, boltstore.ErrInUse) {
		return nil, fmt.Errorf("%w: %s", err, insteadOfOffline(command))
	}
	if err != nil {
		return nil, err
	}
	return &Offline{
		Identity: identity.New(store, reg, clk, log),
		Audit:    auditlog.New(store),
		store:    store, file: store, close: store.Close, clock: clk, log: log, console: console,
	}, nil
}

// OpenAuditLog opens the audit log of the database file at dbPath for
// reading only, for audit verify (command), as check opens a file: the
// file is left byte for byte as it was. OpenOffline commits at its open
// and migrates a file of an older schema, adding the migration's event:
// a backup verified so was no longer the backup taken, and answered a
// head past the one it had printed. A file a server holds is refused
// (ErrDatabaseInUse), saying to verify through that server.
func OpenAuditLog(dbPath, command string) (*auditlog.Log, io.Closer, error) {
	store, err := boltstore.OpenReadOnly(dbPath, boltstore.Options{})
	if errors.Is(err, boltstore.ErrInUse) {
		return nil, nil, fmt.Errorf("%w: %s", err, insteadOfOffline(command))
	}
	if err != nil {
		return nil, nil, err
	}
	return auditlog.New(store), store, nil
}

// OpenOfflineStore is OpenOffline on cfg's store: the bbolt file at
// DBPath, or an etcd store, which servers may share meanwhile (etcd
// serialises the command's commits with theirs, and the audit chain goes
// on through them). It is the way back in for an admin of an etcd store
// who holds no token: on a file, the same command works with the server
// stopped. A prefix that holds no store is refused, never made one: a
// mistyped --etcd-prefix would otherwise become a new, empty deployment.
func OpenOfflineStore(ctx context.Context, cfg Config, command string, log *slog.Logger, console io.Writer) (*Offline, error) {
	if err := cfg.validateStore(); err != nil {
		return nil, err
	}
	if !cfg.IsEtcd() {
		return OpenOffline(cfg.DBPath, command, log, console)
	}
	reg, err := units.Load()
	if err != nil {
		return nil, err
	}
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n, err := e.Keys(ctx)
	if err == nil && n == 0 {
		err = fmt.Errorf("%s holds no childcase store: check --store and --etcd-prefix (a store is made by the first server started on it)", cfg.StoreName())
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	store, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{Space: e.Space, Reserve: cfg.WithDefaults().DBReserve})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("%s: %w", cfg.StoreName(), err)
	}
	clk := clock.System{}
	return &Offline{
		Identity: identity.New(store, reg, clk, log),
		Audit:    auditlog.New(store),
		store:    store, close: store.Close, clock: clk, log: log, console: console,
	}, nil
}

// insteadOfOffline says what to do when the database of a management
// command is held by a running server: the same through the server's API,
// or, for what has no API, to stop the server first.
func insteadOfOffline(command string) string {
	switch {
	case strings.HasPrefix(command, "users "):
		return "a server is running on it; manage users through its API (/v1/users, as an admin)"
	case command == "audit verify":
		return "a server is running on it; verify through its API (POST /v1/auditEvents:verify, as an auditor)"
	case command == "keys rotate":
		return "a server is running on it; rotate through it (childcase keys rotate --addr HOST:PORT --token ADMIN_TOKEN)"
	}
	return "stop the server first (" + command + " works on a file no server runs on)"
}

// Principal is the actor recorded in the audit log for a management
// command run on the server's machine.
func (o *Offline) Principal(command string) access.Principal { return access.System(command) }

// RotateMasterKey rotates the master key of the key file at keyFile. It
// returns the new master's id, the path of the file that keeps the old
// one (for restoring older backups) and the data keys re-wrapped.
func (o *Offline) RotateMasterKey(ctx context.Context, keyFile string) (id, retired string, n int, err error) {
	mk, err := openMasterKeys(ctx, keyFile, o.store, false, o.clock, o.log, func(s string) { fmt.Fprintln(o.console, s) })
	if err != nil {
		return "", "", 0, err
	}
	old := mk.vault.Keyring().Current().ID()
	id, n, err = mk.RotateMasterKey(ctx, o.Principal("keys rotate"), idempotency.Request{})
	return id, retiredKeyPath(keyFile, old), n, err
}

// RebuildStatistics recomputes the statistics counters from the records
// and replaces the stored ones, and audits it; it returns the number of
// cells written.
func (o *Offline) RebuildStatistics(ctx context.Context) (int, error) {
	if o.file == nil {
		return 0, errors.New("stats rebuild works on a bbolt file only")
	}
	n, err := o.file.RebuildStats(ctx)
	if err != nil {
		return 0, err
	}
	ev := o.Principal("stats rebuild").Event(o.clock.Now(), "statistics.rebuild", "statistics", "", audit.OutcomeOK)
	if err := o.Audit.Record(ctx, ev); err != nil {
		return 0, err
	}
	return n, nil
}

// migrationAudit returns the audit event of a migration of the database
// file, by users/system for what opened it (the start, an offline command,
// migrate-store), at the clock's time: boltstore appends it in the
// transaction that migrates (boltstore.Options.Migrated).
func migrationAudit(clk clock.Clock, openedBy string) func(from, to uint32) audit.Event {
	return func(from, to uint32) audit.Event {
		e := access.System(openedBy).Event(clk.Now(), "database.migrate", "database", "", audit.OutcomeOK)
		e.Reason = fmt.Sprintf("schema version %d to %d", from, to)
		return e
	}
}

// Close closes the database.
func (o *Offline) Close() error { return o.close() }
