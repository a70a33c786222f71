// Package units holds the administrative units of Hanoi, versioned by
// validity, loaded from embedded reference data.
//
// Hanoi's units changed twice in the period the service covers: communes
// were rearranged on 2025-01-01, and on 2025-07-01 the district level was
// abolished and the communes merged into 126 new ones. New units often reuse
// the code of a unit they absorbed, so a code alone does not identify a unit:
// a unit is identified by a [Key], its code together with the first day of
// its validity. A case keeps the unit that was in force on its intake date.
//
// The package does no I/O beyond reading its embedded files. The files and
// their sources and licences are described in data/SOURCES.md.
package units

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// A Level is the level of an administrative unit.
type Level int

// The levels of administrative units. The zero Level means "unspecified".
const (
	LevelCity     Level = 1 // a centrally-run city (thành phố trực thuộc trung ương)
	LevelDistrict Level = 2 // quận, huyện, thị xã; abolished on 2025-07-01
	LevelCommune  Level = 3 // phường, xã, thị trấn
)

// String returns "city", "district" or "commune", or "Level(n)" for other
// values.
func (l Level) String() string {
	switch l {
	case LevelCity:
		return "city"
	case LevelDistrict:
		return "district"
	case LevelCommune:
		return "commune"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// A Key identifies one version of a unit: its code and the first day of its
// validity. The code alone is not enough, because codes are reused across
// versions; for example 00004 was Phường Trúc Bạch until 2025-06-30 and is
// Phường Ba Đình from 2025-07-01.
type Key struct {
	Code      string      // GSO code, e.g. "01", "001", "00004"
	ValidFrom vntime.Date // first day in force
}

// IsZero reports whether k is the zero Key, meaning "no unit".
func (k Key) IsZero() bool { return k == Key{} }

// String returns the key in the form CODE@YYYY-MM-DD, as in
// "00004@2025-07-01". [ParseKey] is its inverse.
func (k Key) String() string {
	return k.Code + "@" + k.ValidFrom.String()
}

// Compare orders keys by code, then by first day in force: the order of
// [Registry.List].
func (k Key) Compare(o Key) int {
	return cmp.Or(strings.Compare(k.Code, o.Code), k.ValidFrom.Compare(o.ValidFrom))
}

// ParseKey parses a key in the form written by [Key.String]:
// a code of ASCII digits, "@", and a date YYYY-MM-DD.
func ParseKey(s string) (Key, error) {
	code, date, ok := strings.Cut(s, "@")
	if !ok {
		return Key{}, fmt.Errorf("units: invalid key %q: want CODE@YYYY-MM-DD", s)
	}
	if !isDigits(code) {
		return Key{}, fmt.Errorf("units: invalid key %q: code %q is not a string of digits", s, code)
	}
	from, err := vntime.ParseDate(date)
	if err != nil {
		return Key{}, fmt.Errorf("units: invalid key %q: %w", s, err)
	}
	return Key{Code: code, ValidFrom: from}, nil
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// A Unit is one version of an administrative unit.
type Unit struct {
	Key                 // identity: code and first day in force
	Name    string      // name without the type prefix, e.g. "Ba Đình"
	Type    string      // "thanh_pho", "quan", "huyen", "thi_xa", "phuong", "xa" or "thi_tran"
	Level   Level       // level implied by Type
	Parent  Key         // the unit this one belongs to; zero for the city
	ValidTo vntime.Date // last day in force; zero while still in force
}

// InForce reports whether u is in force on the given date.
func (u Unit) InForce(on vntime.Date) bool {
	return !on.Before(u.ValidFrom) && (u.ValidTo.IsZero() || !on.After(u.ValidTo))
}

// String returns the full name and the key, as in
// "Phường Ba Đình (00004@2025-07-01)". Without it, a Unit would print as
// just its key, through the String method of the embedded Key.
func (u Unit) String() string {
	return u.FullName() + " (" + u.Key.String() + ")"
}

// FullName returns the name with its Vietnamese type prefix, as written in
// official documents, e.g. "Phường Ba Đình", "Quận Ba Đình",
// "Thành phố Hà Nội" or "Thị xã Sơn Tây". If the type is unknown it returns
// the bare name.
func (u Unit) FullName() string {
	t, ok := unitTypes[u.Type]
	if !ok {
		return u.Name
	}
	return t.prefix + " " + u.Name
}

// unitTypes describes the types of unit that may appear in the data.
var unitTypes = map[string]struct {
	level  Level
	prefix string
}{
	"thanh_pho": {LevelCity, "Thành phố"},
	"quan":      {LevelDistrict, "Quận"},
	"huyen":     {LevelDistrict, "Huyện"},
	"thi_xa":    {LevelDistrict, "Thị xã"},
	"phuong":    {LevelCommune, "Phường"},
	"xa":        {LevelCommune, "Xã"},
	"thi_tran":  {LevelCommune, "Thị trấn"},
}

// A Link is one link of the 2025 mapping from an old commune (of the
// 2025-01-01 set) to a new one (of the 2025-07-01 set).
type Link struct {
	From Key  // the old commune
	Full bool // the whole old commune went into the new one, not just part
}

// A Filter selects units for [Registry.List]. Zero fields match any unit.
type Filter struct {
	Parent Key         // units directly under this unit; zero = any
	Level  Level       // units of this level; 0 = any
	AsOf   vntime.Date // units in force on this date; zero = any
}

// A Registry holds all versions of Hanoi's administrative units and the 2025
// mapping between them. It is immutable once returned by [Load] and safe for
// concurrent use.
type Registry struct {
	units  map[Key]Unit
	byCode map[string][]Unit // versions of each code, sorted by ValidFrom
	all    []Unit            // every unit, sorted by Code then ValidFrom
	preds  map[Key][]Link    // new 2025-07 commune -> links, sorted by From.Code
}

// Get returns the unit with key k, and whether there is one.
func (r *Registry) Get(k Key) (Unit, bool) {
	u, ok := r.units[k]
	return u, ok
}

// InForce returns the version of the unit with the given code that is in
// force on the given date, and whether there is one.
func (r *Registry) InForce(code string, on vntime.Date) (Unit, bool) {
	versions := r.byCode[code]
	// Versions of a code do not overlap, so the only candidate is the last
	// one that starts on or before the date.
	i := sort.Search(len(versions), func(i int) bool {
		return versions[i].ValidFrom.After(on)
	})
	if i == 0 || !versions[i-1].InForce(on) {
		return Unit{}, false
	}
	return versions[i-1], true
}

// Ended returns the last version of the unit with the given code that
// went out of force before the given date, and whether there is one: what
// a caller still naming an old commune meant.
func (r *Registry) Ended(code string, before vntime.Date) (Unit, bool) {
	versions := r.byCode[code]
	for i := len(versions) - 1; i >= 0; i-- {
		if u := versions[i]; !u.ValidTo.IsZero() && u.ValidTo.Before(before) {
			return u, true
		}
	}
	return Unit{}, false
}

// Above returns the unit above k on a date, the one it reports and
// escalates to: its parent, or, when the parent is no longer in force (a
// district after 2025-06-30), the nearest ancestor that is; the city is
// always there. ok is false at the top, or for a key the registry does
// not hold.
func (r *Registry) Above(k Key, on vntime.Date) (Unit, bool) {
	u, ok := r.units[k]
	for ok && !u.Parent.IsZero() {
		parent, found := r.units[u.Parent]
		if !found {
			return Unit{}, false
		}
		if parent.InForce(on) || parent.Level == LevelCity {
			return parent, true
		}
		u = parent
	}
	return Unit{}, false
}

// List returns the units that match f, sorted by Code then ValidFrom.
func (r *Registry) List(f Filter) []Unit {
	var out []Unit
	for _, u := range r.all {
		if (f.Parent.IsZero() || u.Parent == f.Parent) &&
			(f.Level == 0 || u.Level == f.Level) &&
			(f.AsOf.IsZero() || u.InForce(f.AsOf)) {
			out = append(out, u)
		}
	}
	return out
}

// Predecessors returns, for a commune of the 2025-07-01 set, the communes of
// the 2025-01-01 set that it was formed from, sorted by code. It returns nil
// for any other key.
//
// The mapping is reference only: a partial link does not say which part of
// the old commune went where, so a case must never be moved along a partial
// link automatically. See data/SOURCES.md for how the mapping was checked.
func (r *Registry) Predecessors(k Key) []Link {
	return slices.Clone(r.preds[k])
}

// Versions returns the versions of k's unit that one commune ran through
// without a change of name, k among them, oldest first: each next version
// of the code began the day after the one before it ended, under the same
// name and type. The 2025-01-01 data list every commune anew, and 493 of
// their 526 carry the code and name they had since 2020 (Phường Trúc Bạch,
// 00004@2020-01-01 and 00004@2025-01-01); the data record no link between
// the two sets (see Successor), but a commune that kept its code and name
// is the same place, which the search's commune needs (a case of 2023 in
// Trúc Bạch is a case of today's Ba Đình). For a key the registry does not
// hold it returns just k.
func (r *Registry) Versions(k Key) []Key {
	versions := r.byCode[k.Code]
	i := slices.IndexFunc(versions, func(u Unit) bool { return u.Key == k })
	if i < 0 {
		return []Key{k}
	}
	same := func(a, b Unit) bool { // b follows a
		return a.Name == b.Name && a.Type == b.Type && !a.ValidTo.IsZero() && a.ValidTo.AddDays(1) == b.ValidFrom
	}
	from, to := i, i
	for from > 0 && same(versions[from-1], versions[from]) {
		from--
	}
	for to+1 < len(versions) && same(versions[to], versions[to+1]) {
		to++
	}
	out := make([]Key, 0, to-from+1)
	for _, u := range versions[from : to+1] {
		out = append(out, u.Key)
	}
	return out
}

// Successor returns the commune of the 2025-07-01 set that wholly succeeds
// old, a commune of the 2025-01-01 set: the one the 2025 mapping sends all
// of it to, when that is its only link. ok is false when old split or went
// partly elsewhere, and for any unit the mapping does not cover (the
// communes of 2020, whose successors the data do not record, and the
// districts): someone must then choose the successor.
func (r *Registry) Successor(old Key) (succ Key, ok bool) {
	n := 0
	for to, links := range r.preds {
		for _, l := range links {
			if l.From != old {
				continue
			}
			n++
			succ, ok = to, l.Full
		}
	}
	if n != 1 || !ok {
		return Key{}, false
	}
	return succ, true
}

// Successors returns the communes of the 2025-07-01 set that any part of
// old, a commune of the 2025-01-01 set, went into, sorted by code: every
// link, whole or partial, so that a search under the old commune still
// reaches each new one (the reverse of Predecessors). It returns nil for
// any unit the mapping does not cover.
func (r *Registry) Successors(old Key) []Key {
	var out []Key
	for to, links := range r.preds {
		for _, l := range links {
			if l.From == old {
				out = append(out, to)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.String(), b.String()) })
	return out
}
