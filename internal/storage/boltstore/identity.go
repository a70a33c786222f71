package boltstore

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// getAs returns the record stored under id in bucket as a T, or
// model.ErrNotFound naming what was looked up.
func getAs[T any](t *tx, bucket []byte, what, id string) (T, error) {
	var v T
	err := t.getRecord(bucket, what, id, &v)
	return v, err
}

// getRecord decodes the record stored under id in bucket into v, or
// returns model.ErrNotFound naming what was looked up.
func (t *tx) getRecord(bucket []byte, what, id string, v any) error {
	raw := t.bucket(bucket).Get([]byte(id))
	if raw == nil {
		return fmt.Errorf("%s %q: %w", what, id, model.ErrNotFound)
	}
	if err := decode(raw, v); err != nil {
		return fmt.Errorf("%s %q: %w", what, id, err)
	}
	return nil
}

// createRecord stores v under id in bucket, or returns
// model.ErrAlreadyExists if the id is taken.
func (t *tx) createRecord(bucket []byte, what, id string, v any) error {
	if t.bucket(bucket).Get([]byte(id)) != nil {
		return fmt.Errorf("%s %q: %w", what, id, model.ErrAlreadyExists)
	}
	return t.writeRecord(bucket, what, id, v)
}

func (t *tx) writeRecord(bucket []byte, what, id string, v any) error {
	raw, err := encode(v)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, id, err)
	}
	if err := t.bucket(bucket).Put([]byte(id), raw); err != nil {
		return fmt.Errorf("put %s %q: %w", what, id, err)
	}
	return nil
}

func (t *tx) User(id string) (model.User, error) {
	return getAs[model.User](t, bucketUsers, "user", id)
}

// CreateUser refuses an empty id and one with a NUL byte (see checkID):
// user ids start the keys of the token and report taker indexes.
func (t *tx) CreateUser(u model.User) error {
	if err := checkID("user", u.ID, false); err != nil {
		return err
	}
	if err := t.createRecord(bucketUsers, "user", u.ID, u); err != nil {
		return err
	}
	return t.putUserUnitEntries(nil, u)
}

// UpdateUser moves the user's entry in users_by_unit with the user: a
// disabled user loses it, an enabled one gets it back, a new unit or
// role moves it, all in the write of the record. A user not stored is
// model.ErrNotFound, so an update cannot create.
func (t *tx) UpdateUser(u model.User) error {
	prev, err := getAs[model.User](t, bucketUsers, "user", u.ID)
	if err != nil {
		return err
	}
	if err := t.writeRecord(bucketUsers, "user", u.ID, u); err != nil {
		return err
	}
	return t.putUserUnitEntries(&prev, u)
}

// putUserUnitEntries writes u's entries in users_by_unit and deletes
// those of prev (nil for a new user) that u no longer has.
func (t *tx) putUserUnitEntries(prev *model.User, u model.User) error {
	var old [][]byte
	if prev != nil {
		old = storekey.UserUnitKeys(*prev)
	}
	if err := t.syncEntries(t.keys(bucketUsersByUnit), old, storekey.UserUnitKeys(u)); err != nil {
		return fmt.Errorf("user %q: %s: %w", u.ID, bucketUsersByUnit, err)
	}
	return nil
}

// ListActiveUsersOf walks the prefixes of users_by_unit that of names,
// merged in order of id: a page reads its own entries and users, and
// one entry more of each prefix.
func (t *tx) ListActiveUsersOf(of []datastore.UnitRole, after string, limit int) ([]model.User, string, error) {
	ix := t.keys(bucketUsersByUnit)
	if ix == nil {
		return nil, "", errNoUsersByUnit
	}
	var out []model.User
	next, err := storekey.ScanUsersOfUnits(func() storekey.Cursor { return ix.Cursor() }, of, after, limit, func(id string) error {
		u, err := t.User(id)
		if err != nil {
			return fmt.Errorf("%s points at a missing user: %w", bucketUsersByUnit, err)
		}
		out = append(out, u)
		return nil
	})
	return out, next, err
}

// errNoUsersByUnit is returned by ListActiveUsersOf on a file of a version
// before 6 opened read-only, which keeps its indexes in buckets of their
// own and has no users_by_unit.
var errNoUsersByUnit = errors.New("the database predates the index of users by unit (schema version 12): open it read-write once to migrate it")

func (t *tx) ListUsers(after string, limit int) ([]model.User, string, error) {
	var out []model.User
	next, err := scanAsc(t.bucket(bucketUsers), after, limit, func(k, v []byte) error {
		var u model.User
		if err := decode(v, &u); err != nil {
			return fmt.Errorf("user %q: %w", k, err)
		}
		out = append(out, u)
		return nil
	})
	return out, next, err
}

// CountUsers walks the bucket: bolt's bucket statistics read only
// committed pages, so they would miss users created in this transaction.
// There are hundreds of users, not millions.
func (t *tx) CountUsers() (int, error) {
	n := 0
	c := t.bucket(bucketUsers).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n, nil
}

func (t *tx) Token(id string) (model.Token, error) {
	return getAs[model.Token](t, bucketTokens, "token", id)
}

// CreateToken checks that the user exists so that no token can sign in as
// nobody, and indexes the token under its user for listing and revocation.
func (t *tx) CreateToken(tok model.Token) error {
	if err := checkID("token", tok.ID, false); err != nil {
		return err
	}
	if t.bucket(bucketUsers).Get([]byte(tok.UserID)) == nil {
		return fmt.Errorf("token %q: user %q: %w", tok.ID, tok.UserID, model.ErrNotFound)
	}
	if err := t.createRecord(bucketTokens, "token", tok.ID, tok); err != nil {
		return err
	}
	if err := t.keys(bucketTokensByUser).Put(tokenIndexKey(tok.UserID, tok.ID), nil); err != nil {
		return fmt.Errorf("put token %q user index: %w", tok.ID, err)
	}
	return nil
}

// UpdateToken refuses a new user: a credential handed to one person must
// never start to act as another.
func (t *tx) UpdateToken(tok model.Token) error {
	prev, err := getAs[model.Token](t, bucketTokens, "update token", tok.ID)
	if err != nil {
		return err
	}
	if prev.UserID != tok.UserID {
		return fmt.Errorf("update token %q: the user cannot change (stored %q, update carries %q)", tok.ID, prev.UserID, tok.UserID)
	}
	return t.writeRecord(bucketTokens, "token", tok.ID, tok)
}

// DeleteToken removes the token and its entry in its user's index.
func (t *tx) DeleteToken(id string) error {
	tok, err := getAs[model.Token](t, bucketTokens, "delete token", id)
	if err != nil {
		return err
	}
	if err := t.bucket(bucketTokens).Delete([]byte(id)); err != nil {
		return fmt.Errorf("delete token %q: %w", id, err)
	}
	if err := t.keys(bucketTokensByUser).Delete(tokenIndexKey(tok.UserID, id)); err != nil {
		return fmt.Errorf("delete token %q user index: %w", id, err)
	}
	return nil
}

func tokenIndexKey(userID, tokenID string) []byte { return storekey.TokenIndexKey(userID, tokenID) }

func (t *tx) TokensOfUser(userID string) ([]model.Token, error) {
	var out []model.Token
	prefix := stringPrefix(userID)
	c := t.keys(bucketTokensByUser).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		tok, err := t.Token(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("tokens of user %q: index points at a missing token: %w", userID, err)
		}
		if tok.UserID != userID {
			return nil, fmt.Errorf("tokens of user %q: index lists token %q of user %q", userID, tok.ID, tok.UserID)
		}
		out = append(out, tok)
	}
	return out, nil
}

func (t *tx) TokensOfUserPage(userID, after string, limit int, keep func(model.Token) bool) ([]model.Token, string, error) {
	var out []model.Token
	next, err := storekey.ScanPrefixAsc(t.keys(bucketTokensByUser).Cursor(), stringPrefix(userID), after, limit, func(id []byte, take bool) error {
		tok, err := t.Token(string(id))
		if err != nil {
			return fmt.Errorf("tokens of user %q: index points at a missing token: %w", userID, err)
		}
		if tok.UserID != userID {
			return fmt.Errorf("tokens of user %q: index lists token %q of user %q", userID, tok.ID, tok.UserID)
		}
		if keep != nil && !keep(tok) {
			return errSkip
		}
		if take {
			out = append(out, tok)
		}
		return nil
	})
	return out, next, err
}

func (t *tx) PoliceUnit(id string) (model.PoliceUnit, error) {
	return getAs[model.PoliceUnit](t, bucketPoliceUnits, "police unit", id)
}

func (t *tx) CreatePoliceUnit(p model.PoliceUnit) error {
	if err := checkID("police unit", p.ID, false); err != nil {
		return err
	}
	return t.createRecord(bucketPoliceUnits, "police unit", p.ID, p)
}

func (t *tx) ListPoliceUnits() ([]model.PoliceUnit, error) {
	var out []model.PoliceUnit
	c := t.bucket(bucketPoliceUnits).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var p model.PoliceUnit
		if err := decode(v, &p); err != nil {
			return out, fmt.Errorf("police unit %q: %w", k, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (t *tx) ListPoliceUnitsPage(after string, limit int) ([]model.PoliceUnit, string, error) {
	var out []model.PoliceUnit
	next, err := scanAsc(t.bucket(bucketPoliceUnits), after, limit, func(k, v []byte) error {
		var p model.PoliceUnit
		if err := decode(v, &p); err != nil {
			return fmt.Errorf("police unit %q: %w", k, err)
		}
		out = append(out, p)
		return nil
	})
	return out, next, err
}

func (t *tx) DataKey(id string) (keys.WrappedKey, error) {
	return getAs[keys.WrappedKey](t, bucketDataKeys, "data key", id)
}

// PutDataKey overwrites: a key rotation re-wraps a data key in place, and
// moves its entry in data_keys_by_master to the new master.
func (t *tx) PutDataKey(id string, w keys.WrappedKey) error {
	if err := checkID("data key", id, false); err != nil {
		return err
	}
	idx := t.bucket(bucketDataKeysByMaster)
	if raw := t.bucket(bucketDataKeys).Get([]byte(id)); raw != nil {
		old, err := decodeAs[keys.WrappedKey](raw)
		if err != nil {
			return fmt.Errorf("data key %q: %w", id, err)
		}
		if old.MasterID != w.MasterID {
			if err := idx.Delete(dataKeyMasterKey(old.MasterID, id)); err != nil {
				return fmt.Errorf("put data key %q: %w", id, err)
			}
		}
	}
	if err := idx.Put(dataKeyMasterKey(w.MasterID, id), nil); err != nil {
		return fmt.Errorf("put data key %q: %w", id, err)
	}
	return t.writeRecord(bucketDataKeys, "data key", id, w)
}

// dataKeyMasterKey is the key of a data key's entry in data_keys_by_master.
// Master ids are hex and data key ids hold no 0x00, so the entries of one
// master form one prefix.
func dataKeyMasterKey(masterID, id string) []byte {
	return append(stringPrefix(masterID), id...)
}

// DataKeyPerMaster takes the first entry of each master's run in
// data_keys_by_master and seeks past the run, so it reads one entry and
// one record per master.
func (t *tx) DataKeyPerMaster() ([]datastore.DataKey, error) {
	idx := t.bucket(bucketDataKeysByMaster)
	if idx == nil {
		// A file opened read-only before Open built the index: the same
		// answer, the slow way.
		return t.dataKeyPerMasterByScan()
	}
	var out []datastore.DataKey
	cur := idx.Cursor()
	for k, _ := cur.First(); k != nil; {
		master, id, ok := bytes.Cut(k, []byte{0})
		if !ok {
			return nil, fmt.Errorf("data key index entry %q: malformed", k)
		}
		w, err := t.DataKey(string(id))
		if err != nil {
			return nil, fmt.Errorf("data key index entry %q: %w", k, err)
		}
		out = append(out, datastore.DataKey{ID: string(id), Wrapped: w})
		// 0x01 sorts after every "master 0x00 ..." entry and before the
		// next master's.
		k, _ = cur.Seek(append(bytes.Clone(master), 1))
	}
	return out, nil
}

func (t *tx) dataKeyPerMasterByScan() ([]datastore.DataKey, error) {
	return storekey.FirstDataKeyPerMaster(t.bucket(bucketDataKeys).Cursor(), decodeAs[keys.WrappedKey])
}

func (t *tx) ListDataKeys(after string, limit int) ([]datastore.DataKey, string, error) {
	var out []datastore.DataKey
	next, err := scanAsc(t.bucket(bucketDataKeys), after, limit, func(k, v []byte) error {
		d := datastore.DataKey{ID: string(k)}
		if err := decode(v, &d.Wrapped); err != nil {
			return fmt.Errorf("data key %q: %w", k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, next, err
}
