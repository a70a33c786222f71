package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// masterKeys owns the key file and its rotation. A rotation writes the new
// master next to the key file as "<key file>.next", re-wraps every data key
// while both masters are in the keyring (so reads never stop), keeps the old
// master as "<key file>.retired-<id>" for restoring older backups, and then
// moves the new one into place. A rotation cut short by a crash is finished
// at the next start.
type masterKeys struct {
	path  string
	store datastore.Store
	vault *vault.Vault
	clock clock.Clock
	log   *slog.Logger

	mu sync.Mutex // one rotation at a time; a hot backup's snapshot between two (betweenRotations)
	// retired are the masters rotated away in this process, kept in memory
	// so that reads whose snapshot predates a rotation still open.
	retired []keys.MasterKey
	// search rebuilds the blind index under the new master's index key
	// once the data keys are re-wrapped; nil rebuilds nothing.
	search *search.Service
	// shared is set when other instances may use the store (etcd): a
	// rotation here would re-wrap the data keys under a master only this
	// machine's key file holds, and the others could no longer open them.
	shared bool
}

func nextKeyPath(path string) string { return path + ".next" }

// nextRequestPath is the file beside the next key that names the call
// (its caller's user id, the call's request id, and its request_id and
// fingerprint when it had one) of the rotation to that key, so that a
// rotation cut short by a crash and finished at start is remembered for
// that request (the client's retry then answers the rotation it asked
// for instead of rotating again) and audited with that call's request id.
func nextRequestPath(path string) string { return path + ".next.request" }

// pendingRequest is the content of the next request file.
type pendingRequest struct {
	UserID string `json:"user_id"`
	// CallID is the call's request id, the one its audit events carry
	// (absent from a file written before it was kept).
	CallID      string `json:"call_request_id,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
	Fingerprint []byte `json:"fingerprint,omitempty"`
}

// writeNextRequest writes the next request file, durably, before the next
// key file is written: a next key file is never beside another rotation's
// request.
func writeNextRequest(path string, by access.Principal, req idempotency.Request) error {
	p := nextRequestPath(path)
	b, err := json.Marshal(pendingRequest{UserID: by.UserID, CallID: by.RequestID, RequestID: req.ID, Fingerprint: req.Fingerprint})
	if err != nil {
		return err
	}
	// Replaced, not written through: a symlink planted at the name would
	// have its target overwritten. The key file written next syncs the
	// folder, and with it this rename.
	return writePrivateFile(p, b)
}

// readNextRequest returns the call of the interrupted rotation: its
// caller (the user id, which scopes a request_id, and the call's request
// id) and its request, whose ID is "" when it had no request_id; none when
// the file is absent (a rotation of the offline command, or of a release
// that kept no file without a request_id) or cannot be read (the rotation
// is finished all the same, only not remembered).
func readNextRequest(path string, log *slog.Logger) (access.Principal, idempotency.Request) {
	b, err := os.ReadFile(nextRequestPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return access.Principal{}, idempotency.Request{}
	}
	var r pendingRequest
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil || r.UserID == "" {
		log.Warn("the request of the interrupted master key rotation cannot be read: a retry of it will rotate again",
			"path", nextRequestPath(path), "err", err)
		return access.Principal{}, idempotency.Request{}
	}
	return access.Principal{UserID: r.UserID, RequestID: r.CallID}, idempotency.Request{ID: r.RequestID, Fingerprint: r.Fingerprint}
}

func retiredKeyPath(path, id string) string { return path + ".retired-" + id }

// openMasterKeys loads the master key (creating the key file when the
// database holds no encrypted data yet), finishes a rotation left half
// done, and proves the key opens the stored data: a wrong key file fails
// here, at start, not as garbage later. On a store shared with other
// instances (shared), the first to start puts a data key under its master
// (vault.Claim), so that an instance with another key file fails here too
// while nothing is sealed yet.
func openMasterKeys(ctx context.Context, path string, store datastore.Store, shared bool, clk clock.Clock, log *slog.Logger, console func(string)) (*masterKeys, error) {
	hasData, err := vault.HasData(ctx, store)
	if err != nil {
		return nil, err
	}
	var master keys.MasterKey
	if hasData {
		if master, err = keys.LoadMaster(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("key file %s is missing, but the database holds data encrypted under a master key; restore the key file (--key-file)", path)
			}
			return nil, err
		}
	} else {
		var created bool
		if master, created, err = keys.LoadOrCreateMaster(path); err != nil {
			return nil, err
		}
		if created {
			console(fmt.Sprintf("Created a new master key file %s (mode 0600). Back it up apart from the database: without it the data cannot be read.", path))
			log.Info("master key file created", "path", path, "master_key_id", master.ID())
		}
	}
	mk := &masterKeys{path: path, store: store, vault: vault.New(keys.NewKeyring(master)), clock: clk, log: log, shared: shared}
	next, nextErr := keys.LoadMaster(nextKeyPath(path))
	// The masters of a rotation left unfinished without its next key file
	// (a copy of the file taken during one, an older backup) are those of
	// the retired key files a rotation keeps beside the key file: they go
	// into the keyring, so that such a file opens, and are re-wrapped
	// away below.
	if mk.retired, err = loadRetired(ctx, path, store, master, next); err != nil {
		return nil, err
	}
	if m, ok := indexMaster(ctx, path, store, log, append([]keys.MasterKey{master, next}, mk.retired...)...); ok {
		mk.retired = append(mk.retired, m)
	}
	mk.vault.SetKeyring(keys.NewKeyring(master, mk.retired...))
	fullDisk := false
	switch err := nextErr; {
	case err == nil && shared:
		// Finishing it would re-wrap the data keys under a key only this
		// machine has, and every other instance would fail to open them
		// (as RotateMasterKey refuses to on a shared store).
		return nil, fmt.Errorf("key file: %s is the next key of an interrupted master key rotation, "+
			"which is not finished on a store shared by several instances: finish it on the file before moving it onto etcd "+
			"(start a server on the file once), or remove %s if this store was never under it", nextKeyPath(path), nextKeyPath(path))
	case err == nil:
		log.Warn("finishing a master key rotation that was interrupted", "master_key_id", next.ID())
		// The interrupted rotation may not have reached its audit event
		// (written before the new key is put in place): record the key
		// change again, saying how it ended.
		// Remembered for the request that began it, if any: the client
		// whose call the crash cut short retries it. The service finishes
		// it under the request id of that call, when known, so that the
		// auditor joins the two events of one rotation.
		requester, req := readNextRequest(path, log)
		by := access.System("finish interrupted key rotation")
		if requester.RequestID != "" {
			by.RequestID = requester.RequestID
		}
		_, err := mk.finish(ctx, master, next, func(n int) error {
			return mk.recordRotation(ctx, by, requester, master.ID(), next, n,
				" (an interrupted rotation, finished at start)", req)
		})
		switch {
		case isDiskFull(err):
			// A server that cannot write must still start and answer reads,
			// as it does on a full disk without a rotation under way. The
			// keyring holds both masters by now (finish put them there), so
			// every data key opens however far the re-wrap got; the
			// rotation is finished by RotateMasterKey (resumable takes it
			// up, and a retry of its request_id answers it) or by the next
			// start, once there is room.
			log.Error("the interrupted master key rotation cannot be finished: the database is full; "+
				"the server starts under both master keys, and the rotation is finished by a retry of RotateMasterKey or the next start once space is freed",
				"master_key_id", next.ID(), "err", err)
			fullDisk = true
		case err != nil:
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	// Only a store that held no data key at the start of this function is
	// claimed: every later start only reads, as a full store needs.
	if shared && !hasData {
		if err := mk.vault.Claim(ctx, store); err != nil {
			return nil, fmt.Errorf("claim the store for the master key %s: %w", master.ID(), err)
		}
	}
	if err := mk.vault.Check(ctx, store); err != nil {
		return nil, missingMasters(ctx, store, mk.vault.Keyring(), path, err)
	}
	if !shared && !fullDisk {
		switch err := mk.rewrapRetired(ctx, "re-wrapped at start"); {
		case isDiskFull(err):
			// As for a rotation that cannot be finished on a full disk:
			// the keyring holds the retired masters, so every data key
			// opens; the next start, with room, re-wraps them.
			log.Error("the data keys under retired master keys cannot be re-wrapped: the database is full; "+
				"the server starts under every master key, and the next start once space is freed re-wraps them", "err", err)
		case err != nil:
			return nil, err
		}
	}
	return mk, nil
}

// missingMasters adds to err, a Check that failed for a wrong key, the
// masters the data keys are under that the keyring lacks, and the retired
// key file beside path that would hold each: a backup older than the
// last rotation opens with the key folder that rotation left.
func missingMasters(ctx context.Context, store datastore.Store, ring *keys.Keyring, path string, err error) error {
	if !errors.Is(err, keys.ErrWrongKey) {
		return err
	}
	inUse, ierr := vault.MastersInUse(ctx, store)
	if ierr != nil {
		return err
	}
	var files []string
	for _, id := range inUse {
		if !slices.ContainsFunc(ring.Masters(), func(m keys.MasterKey) bool { return m.ID() == id }) && keys.ValidMasterID(id) {
			files = append(files, retiredKeyPath(path, id))
		}
	}
	if len(files) == 0 {
		return err
	}
	return fmt.Errorf("%w; start with the key file the data was written under, or put beside --key-file the retired key file a rotation kept of it (%s)",
		err, strings.Join(files, ", "))
}

// loadRetired returns the retired masters of the key file at path
// (path.retired-<id>) under which data keys of store are wrapped, other
// than the masters of known (the key file's and the next one's). A master
// in use with no retired file beside the key file is left to Check, which
// names it. Only the masters the data needs are loaded: a search looks
// its tokens up under every master of the keyring.
func loadRetired(ctx context.Context, path string, store datastore.Store, known ...keys.MasterKey) ([]keys.MasterKey, error) {
	inUse, err := vault.MastersInUse(ctx, store)
	if err != nil {
		return nil, err
	}
	var out []keys.MasterKey
	for _, id := range inUse {
		if !keys.ValidMasterID(id) || slices.ContainsFunc(known, func(m keys.MasterKey) bool { return m.ID() == id }) {
			continue
		}
		p := retiredKeyPath(path, id)
		m, err := keys.LoadMaster(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, fmt.Errorf("key file: the retired key file of master %s, which data keys of this database are under: %w", id, err)
		case m.ID() != id:
			return nil, fmt.Errorf("key file: %s holds the master key %s, not %s as its name says; put the retired key file of %s there", p, m.ID(), id, id)
		}
		out = append(out, m)
	}
	return out, nil
}

// indexMaster returns the retired master the search index is recorded
// under (SearchIndexedUnder) when it is none of known and its retired key
// file is beside the key file at path. A file re-wrapped at start has its
// index rebuilt under the key file's master in the background, a batch at
// a time; a start before that is done must still look up under the old
// master the cases not yet indexed again, or a search would miss them,
// though no data key is under that master any more. The search alone
// needs it: a file that cannot be read is logged, and the start goes on.
func indexMaster(ctx context.Context, path string, store datastore.Store, log *slog.Logger, known ...keys.MasterKey) (keys.MasterKey, bool) {
	var under string
	if err := store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		under, err = tx.SearchIndexedUnder()
		return err
	}); err != nil {
		log.Warn("search index: the master key it is recorded under cannot be read", "err", err)
		return keys.MasterKey{}, false
	}
	id, _, _ := strings.Cut(under, "/") // the entries' format follows the id
	if !keys.ValidMasterID(id) || slices.ContainsFunc(known, func(m keys.MasterKey) bool { return m.ID() == id }) {
		return keys.MasterKey{}, false
	}
	p := retiredKeyPath(path, id)
	m, err := keys.LoadMaster(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return keys.MasterKey{}, false
	case err == nil && m.ID() != id:
		err = fmt.Errorf("%s holds the master key %s, not %s as its name says", p, m.ID(), id)
	}
	if err != nil {
		log.Warn("search index: the retired key file of the master it is still under cannot be read; searches miss the cases not yet indexed again until the rebuild reaches them",
			"master_key_id", id, "err", err)
		return keys.MasterKey{}, false
	}
	return m, true
}

// rewrapRetired re-wraps under the current master the data keys still
// under other masters of the keyring (retired ones, which loadRetired
// found beside the key file): a file copied while a rotation was
// unfinished, or an older backup started with a later key file. It ends
// under one master, so that its backups open with the key file alone,
// and the re-wrap is audited as the rotation it finishes, its reason
// ending with when (at start, before a backup).
//
// The event comes before the re-wrap: the re-wrap's last commit takes
// away the only sign that there was one (data keys under a retired
// master), so a kill between the two, in the other order, would leave a
// key change never audited. A kill after the event leaves data keys to
// re-wrap, and the next start records it again: two events, never none.
func (mk *masterKeys) rewrapRetired(ctx context.Context, when string) error {
	inUse, err := vault.MastersInUse(ctx, mk.store)
	if err != nil {
		return err
	}
	current := mk.vault.Keyring().Current()
	from := slices.DeleteFunc(inUse, func(id string) bool { return id == current.ID() })
	if len(from) == 0 {
		return nil
	}
	mk.log.Warn("re-wrapping the data keys under retired master keys", "from", from, "master_key_id", current.ID())
	todo, err := vault.CountNotUnder(ctx, mk.store, current.ID())
	if err != nil {
		return fmt.Errorf("re-wrap the data keys under retired master keys %v: %w", from, err)
	}
	by := access.System("finish unfinished key rotation")
	if err := mk.recordRotation(ctx, by, by, strings.Join(from, ", "), current, todo,
		" (data keys under retired master keys, "+when+")", idempotency.Request{}); err != nil {
		return err
	}
	n, err := mk.vault.Rotate(ctx, mk.store)
	if err != nil {
		return fmt.Errorf("re-wrap the data keys under retired master keys %v: %w", from, err)
	}
	mk.log.Info("data keys under retired master keys re-wrapped", "from", from, "master_key_id", current.ID(), "rewrapped", n)
	return nil
}

// retiredNameFree refuses a rotation from old whose retired key file's
// name (path.retired-<old id>) is taken by anything but old's own key
// file (which a rotation cut short after keeping it left). The rotation
// keeps the old master there, for the backups taken under it, with a
// link that leaves a file already at the name alone: with another key
// there it went on, put the new key in the key file's place, and the old
// master was on disk nowhere, every older backup lost with it.
func retiredNameFree(path string, old keys.MasterKey) error {
	retired := retiredKeyPath(path, old.ID())
	m, err := keys.LoadMaster(retired)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err == nil && m.ID() == old.ID():
		return nil
	case err == nil:
		err = fmt.Errorf("it holds the master key %s", m.ID())
	}
	return fmt.Errorf("rotate master key: %s, where the rotation keeps the old master key %s for the backups taken under it, is taken (%w): "+
		"nothing is rotated; move that file away and rotate again", retired, old.ID(), err)
}

// rotation is the answer to a rotation, as remembered for a retry.
type rotation struct {
	MasterKeyID string
	Rewrapped   int
}

// RotateMasterKey generates a new master key and re-wraps every data key
// under it, while reads and writes go on. A retry with the same request_id
// returns the first answer instead of rotating again; the request is
// remembered in the transaction that records the rotation in the audit log.
func (mk *masterKeys) RotateMasterKey(ctx context.Context, by access.Principal, req idempotency.Request) (string, int, error) {
	if mk.shared {
		return "", 0, model.Precondition("SHARED_STORE",
			"master key rotation is not available on a store shared by several instances (etcd): "+
				"the other instances would no longer open the data keys re-wrapped under a key file only this machine has")
	}
	// Waits out a backup's copy or another rotation, but not past its
	// caller: a rotation its caller gave up on must not run after.
	// The lock also orders retries: the first is recorded before a retry
	// looks.
	if err := mk.lock(ctx); err != nil {
		return "", 0, fmt.Errorf("rotate master key: waiting for a backup or rotation under way: %w", err)
	}
	defer mk.mu.Unlock()
	var first rotation
	replayed := false
	err := mk.store.View(ctx, func(tx datastore.ReadTx) error {
		rec, found, err := idempotency.Replay(tx, by, "RotateMasterKey", req.ID, req.Fingerprint)
		if err != nil || !found {
			return err
		}
		replayed = true
		return json.Unmarshal(rec.Result, &first)
	})
	if err != nil {
		return "", 0, err
	}
	if replayed {
		return first.MasterKeyID, first.Rewrapped, nil
	}
	old, next, resumed, err := mk.resumable()
	if err != nil {
		return "", 0, err
	}
	if err := retiredNameFree(mk.path, old); err != nil {
		return "", 0, err
	}
	if !resumed {
		if next, err = keys.GenerateMaster(); err != nil {
			return "", 0, err
		}
	}
	if err := writeNextRequest(mk.path, by, req); err != nil {
		return "", 0, fmt.Errorf("rotate master key: %w", err)
	}
	if !resumed {
		if err := keys.WriteMaster(nextKeyPath(mk.path), next); err != nil {
			return "", 0, fmt.Errorf("rotate master key: %w", err)
		}
	}
	n, err := mk.finish(ctx, old, next, func(n int) error {
		return mk.recordRotation(ctx, by, by, old.ID(), next, n, "", req)
	})
	if err != nil {
		return "", n, err
	}
	return next.ID(), n, nil
}

// resumable returns the master a rotation goes from (old) and, when an
// earlier rotation of this process failed part way (a full disk) and left
// its next key file, that rotation's next master (resumed): a new call
// finishes it rather than failing on the file until a restart. The caller
// holds mk.mu.
func (mk *masterKeys) resumable() (old, next keys.MasterKey, resumed bool, err error) {
	current := mk.vault.Keyring().Current()
	next, err = keys.LoadMaster(nextKeyPath(mk.path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return current, keys.MasterKey{}, false, nil
	case err != nil:
		return keys.MasterKey{}, keys.MasterKey{}, false, fmt.Errorf("rotate master key: %w", err)
	case next.ID() != current.ID() || len(mk.retired) == 0:
		return keys.MasterKey{}, keys.MasterKey{}, false, fmt.Errorf("rotate master key: %s holds a key this server is not rotating to; "+
			"it is not replaced: stop the server, and start it again to finish that rotation", nextKeyPath(mk.path))
	}
	// finish put next in the keyring and old last among the retired.
	old = mk.retired[len(mk.retired)-1]
	mk.retired = mk.retired[:len(mk.retired)-1]
	mk.log.Warn("finishing the master key rotation that failed part way", "master_key_id", next.ID())
	return old, next, true, nil
}

// recordRotation audits the rotation from the master(s) old to next by
// by (its reason ends with note), and remembers its answer for a retry
// of requester's req.
func (mk *masterKeys) recordRotation(ctx context.Context, by, requester access.Principal, old string, next keys.MasterKey, n int, note string, req idempotency.Request) error {
	return mk.store.Update(ctx, func(tx datastore.Tx) error {
		now := mk.clock.Now()
		e := by.Event(now, "keys.rotate", "masterKey", "", audit.OutcomeOK)
		e.Reason = fmt.Sprintf("from %s to %s, %d data keys re-wrapped%s", old, next.ID(), n, note)
		// Sealed like a disclosure's reason, so that the reasons given
		// for actions are all read the same way; this one holds no
		// personal data.
		if err := mk.vault.SealReason(tx, &e); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(e); err != nil {
			return err
		}
		if req.ID == "" {
			return nil
		}
		result, err := json.Marshal(rotation{MasterKeyID: next.ID(), Rewrapped: n})
		if err != nil {
			return err
		}
		return idempotency.Remember(tx, requester, "RotateMasterKey", req.ID, req.Fingerprint, "masterKey", result, now)
	})
}

// finish re-wraps every data key from old to next, audits the rotation
// with record (given the data keys re-wrapped), and then puts next's file
// in place of the key file, keeping old's as a retired file. The event
// comes before the file: a crash between the two leaves the next key file
// beside the key file, and the next start finishes the rotation and
// records it again, where the other order could leave a rotation done and
// never audited.
func (mk *masterKeys) finish(ctx context.Context, old, next keys.MasterKey, record func(n int) error) (int, error) {
	if err := retiredNameFree(mk.path, old); err != nil {
		return 0, err
	}
	mk.retired = append(mk.retired, old)
	mk.vault.SetKeyring(keys.NewKeyring(next, mk.retired...))
	n, err := mk.vault.Rotate(ctx, mk.store)
	if err != nil {
		return n, fmt.Errorf("rotate master key: re-wrap data keys: %w", err)
	}
	// The index follows the master: each case is indexed again under the
	// new index key, a batch at a time; until its turn comes, searches
	// still find it under the old key, which the keyring holds.
	if mk.search != nil {
		// A case whose entry cannot be made is left out and marked, the
		// others indexed: the catch-up tries it again and logs it. It does
		// not fail a rotation whose data keys are re-wrapped by now.
		indexed, err := mk.search.Rebuild(ctx)
		switch {
		case err != nil && search.OnlyLeftOut(err):
			mk.log.Error("search index rebuilt under the new master key, but for cases whose entry cannot be made", "cases", indexed, "err", err)
		case err != nil:
			return n, fmt.Errorf("rotate master key: rebuild the search index: %w", err)
		default:
			mk.log.Info("search index rebuilt under the new master key", "cases", indexed)
		}
	}
	if err := record(n); err != nil {
		return n, err
	}
	retired := retiredKeyPath(mk.path, old.ID())
	if err := os.Link(mk.path, retired); err != nil && !errors.Is(err, fs.ErrExist) {
		return n, fmt.Errorf("rotate master key: keep the old key as %s: %w", retired, err)
	}
	if err := os.Rename(nextKeyPath(mk.path), mk.path); err != nil {
		return n, fmt.Errorf("rotate master key: %w", err)
	}
	// Remembered in the database by now; a file left by a crash here is
	// overwritten or removed by the next rotation, and read only beside a
	// next key file.
	_ = os.Remove(nextRequestPath(mk.path))
	if d, err := os.Open(filepath.Dir(mk.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	// The old master stays in memory (never again on disk under the key
	// file's name) until the process ends: a read whose snapshot began
	// before the last re-wrap committed still holds keys wrapped under it.
	mk.log.Info("master key rotated", "master_key_id", next.ID(), "rewrapped", n, "retired_key_file", retired)
	return n, nil
}

// betweenRotations is a hot backup whose snapshots are never taken while
// a rotation runs. A rotation re-wraps the data keys in batches and then
// rebuilds the search index a batch at a time, while writes seal new data
// under the next master: a snapshot taken meanwhile is under two masters,
// and neither the key file nor the retired one the operator keeps opens
// it alone (a start given one of them refuses it, "wrong master key").
// Waiting for the rotation (seconds, minutes on a large database) gives a
// backup under the old master, which the retired key file opens, or under
// the new one. A rotation stopped part way (a full disk) releases the
// lock with the data keys under both: the store then refuses the copy
// (ROTATION_UNFINISHED) until the rotation is finished.
type betweenRotations struct {
	backup grpcapi.DatabaseBackup
	mk     *masterKeys
}

// backupBetweenRotations returns b, its snapshots taken between
// rotations; nil when the store has no hot backup.
func (mk *masterKeys) backupBetweenRotations(b grpcapi.DatabaseBackup) grpcapi.DatabaseBackup {
	if b == nil {
		return nil
	}
	return betweenRotations{backup: b, mk: mk}
}

// Snapshot waits for a rotation under way to end, then takes the
// snapshot holding off the next one until the snapshot's copy is written
// to its local file (not while it streams to the client, which the
// caller does after). It gives up when ctx ends.
func (b betweenRotations) Snapshot(ctx context.Context) (io.ReadCloser, int64, error) {
	if err := b.mk.lock(ctx); err != nil {
		return nil, 0, fmt.Errorf("backup: waiting for the master key rotation under way: %w", err)
	}
	defer b.mk.mu.Unlock()
	// A rotation a full disk stopped part way is finished first, once
	// there is room: otherwise the store refuses every copy of the data
	// keys under two masters (ROTATION_UNFINISHED), and a nightly backup
	// would fail night after night until someone rotated again. While it
	// cannot be finished (the disk still full) the copy is refused as the
	// store refuses one under two masters: stopped at its audit event, the
	// data keys are all under the new master, whose key is in the next key
	// file alone, and the copy would open with no key file the operator
	// keeps.
	if err := b.mk.finishStopped(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		b.mk.log.Error("backup: the master key rotation stopped part way cannot be finished", "err", err)
		if !b.mk.underKeyFile(ctx) {
			return nil, 0, fmt.Errorf("backup: %w", model.Precondition("ROTATION_UNFINISHED",
				"a master key rotation is unfinished and cannot be finished now (%v), and a copy now would not open with the key file; "+
					"free space on the disk, then back up again (the backup finishes the rotation first), or call RotateMasterKey again", err))
		}
	}
	return b.backup.Snapshot(ctx)
}

// underKeyFile reports whether every data key is under the master of
// the key file on disk, so that a copy taken now opens with it: a
// rotation stopped before it re-wrapped anything leaves them so, one
// stopped at its audit event does not. Anything it cannot read counts as
// not.
func (mk *masterKeys) underKeyFile(ctx context.Context) bool {
	file, err := keys.LoadMaster(mk.path)
	if err != nil {
		return false
	}
	inUse, err := vault.MastersInUse(ctx, mk.store)
	return err == nil && !slices.ContainsFunc(inUse, func(id string) bool { return id != file.ID() })
}

// finishStopped finishes a rotation this process left unfinished (a
// full disk stopped RotateMasterKey, or the finishing or re-wrap at
// start): the one whose next key file is beside the key file, even with
// every data key re-wrapped (stopped at its audit event, the new master
// is in that file alone), audited and remembered for the call that began
// it, as at a start; or the re-wrap of the data keys still under retired
// masters. With nothing to finish it reads the next key file's name and
// one data key per master. The caller holds mk.mu.
func (mk *masterKeys) finishStopped(ctx context.Context) error {
	if mk.shared {
		return nil
	}
	old, next, resumed, err := mk.resumable()
	if err != nil {
		return err
	}
	if !resumed {
		inUse, err := vault.MastersInUse(ctx, mk.store)
		if err != nil || len(inUse) < 2 {
			return err
		}
		return mk.rewrapRetired(ctx, "re-wrapped before a backup")
	}
	requester, req := readNextRequest(mk.path, mk.log)
	by := access.System("finish interrupted key rotation")
	if requester.RequestID != "" {
		by.RequestID = requester.RequestID
	}
	_, err = mk.finish(ctx, old, next, func(n int) error {
		return mk.recordRotation(ctx, by, requester, old.ID(), next, n,
			" (a rotation stopped part way, finished before a backup)", req)
	})
	return err
}

// lockPoll is how often lock looks again at a rotation's lock.
const lockPoll = 20 * time.Millisecond

// lock takes mk.mu, or gives up when ctx ends: a backup waits out a
// rotation, and a rotation a backup's copy or another rotation, but not
// past its caller.
func (mk *masterKeys) lock(ctx context.Context) error {
	for !mk.mu.TryLock() {
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// isDiskFull tells a write refused for want of room (the store's reserve,
// its maximum size, or the disk itself).
func isDiskFull(err error) bool {
	return errors.Is(err, model.ErrFull) || errors.Is(err, syscall.ENOSPC)
}
