package storekey

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// The index of users by unit (users_by_unit, schema version 12) holds an
// entry for every active user: the user's unit, 0x00, the role as one
// byte, and the user id. The users of one unit and role are one prefix
// (UserUnitPrefix), in order of id, so a page of a unit's officers is a
// scan of as many entries as it shows (ScanUsersOfUnits), however many
// users the service has. A disabled user has no entry: a list of the
// people who may be given work is of those who may sign in.

// UserUnitPrefix is the prefix of the entries of the active users of one
// unit and role. A role outside one byte has no prefix (no such user is
// indexed).
func UserUnitPrefix(unit string, role model.Role) ([]byte, bool) {
	if role < 0 || role > 0xff {
		return nil, false
	}
	return append(StringPrefix(unit), byte(role)), true
}

// UserUnitKeys are the entries u has in users_by_unit: one while it is
// active and has a unit and a role of one byte, none otherwise.
func UserUnitKeys(u model.User) [][]byte {
	if u.Disabled() || u.Unit == "" || u.ID == "" {
		return nil
	}
	p, ok := UserUnitPrefix(u.Unit, u.Role)
	if !ok {
		return nil
	}
	return [][]byte{append(p, u.ID...)}
}

// ParseUserUnitKey splits an entry of users_by_unit into its unit, role
// and user id.
func ParseUserUnitKey(k []byte) (unit string, role model.Role, id string, ok bool) {
	u, rest, found := bytes.Cut(k, []byte{0})
	if !found || len(u) == 0 || len(rest) < 2 {
		return "", 0, "", false
	}
	return string(u), model.Role(rest[0]), string(rest[1:]), true
}

// ScanUsersOfUnits walks the entries of users_by_unit under the prefixes
// of of, merged in order of user id, after the cursor (the hex of the last
// user id of the previous page, as ListUsers' cursor: "" for the start),
// and calls fn with each user id until limit were taken. It returns a
// cursor for the next page only if another entry follows, so a cursor
// never leads to an empty page. It reads at most limit+1 entries of each
// prefix: one cursor per prefix, each a prefix scan.
func ScanUsersOfUnits(open func() Cursor, of []datastore.UnitRole, after string, limit int, fn func(id string) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	var from []byte
	if after != "" {
		var err error
		if from, err = hex.DecodeString(after); err != nil || len(from) == 0 {
			return "", model.ErrBadCursor
		}
	}
	type head struct {
		c      Cursor
		prefix []byte
		id     []byte // the entry's user id, nil once the prefix is done
	}
	step := func(h *head, k []byte) {
		if k == nil || !bytes.HasPrefix(k, h.prefix) {
			h.id = nil
			return
		}
		h.id = bytes.Clone(k[len(h.prefix):])
	}
	var heads []*head
	seen := map[string]bool{}
	for _, ur := range of {
		p, ok := UserUnitPrefix(ur.Unit, ur.Role)
		if !ok || seen[string(p)] {
			continue
		}
		seen[string(p)] = true
		h := &head{c: open(), prefix: p}
		setFloor(h.c, p)
		setCeiling(h.c, p)
		seek := append(bytes.Clone(p), from...)
		k, _ := h.c.Seek(seek)
		if from != nil && bytes.Equal(k, seek) {
			k, _ = h.c.Next()
		}
		step(h, k)
		if h.id != nil {
			heads = append(heads, h)
		}
	}
	var last []byte
	for n := 0; ; n++ {
		var low *head
		for _, h := range heads {
			if h.id != nil && (low == nil || bytes.Compare(h.id, low.id) < 0) {
				low = h
			}
		}
		if low == nil {
			return "", nil
		}
		if n == limit {
			return hex.EncodeToString(last), nil
		}
		if err := fn(string(low.id)); err != nil {
			return "", err
		}
		last = low.id
		k, _ := low.c.Next()
		step(low, k)
	}
}
