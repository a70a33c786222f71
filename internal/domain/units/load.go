package units

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/vntime"
)

//go:embed data/hanoi-units-2020.json data/hanoi-units-2025-01.json data/hanoi-units-2025.json data/hanoi-units-2025-mapping.json
var embedded embed.FS

// The data files, in the order of their validity.
const (
	file2020    = "hanoi-units-2020.json"         // 2020-01-01 … 2024-12-31
	file202501  = "hanoi-units-2025-01.json"      // 2025-01-01 … 2025-06-30
	file202507  = "hanoi-units-2025.json"         // from 2025-07-01
	fileMapping = "hanoi-units-2025-mapping.json" // 2025-01 communes -> 2025-07 communes
)

// The city. The data files name it only as their "province"; it is the root
// of every version of the hierarchy.
const (
	cityCode = "01"
	cityName = "Hà Nội"
	cityType = "thanh_pho"
)

// unitSet is the content of a unit file.
type unitSet struct {
	ValidFrom vntime.Date `json:"valid_from"`
	ValidTo   vntime.Date `json:"valid_to"`
	Province  struct {
		Code string `json:"code"`
		Name string `json:"name"`
	} `json:"province"`
	Districts []record `json:"districts"`
	Communes  []record `json:"communes"`
}

// record is a unit as written in the data files.
type record struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	District string `json:"district"` // communes before 2025-07-01 only
}

// mappingSet is the content of the mapping file.
type mappingSet struct {
	ValidFrom vntime.Date `json:"valid_from"`
	Mapping   []struct {
		record
		From []struct {
			record
			Link string `json:"link"` // "full" or "partial"
		} `json:"from"`
	} `json:"mapping"`
}

// Load parses and validates the embedded reference data and returns a
// registry of every version of Hanoi's units. It fails, with an error naming
// the file, if the data are inconsistent: a parent that is missing or not in
// force over the whole validity of its child, two versions of one code that
// overlap in time, a name that is not in Unicode NFC, a district that differs
// between the files, or a mapping link to an unknown unit.
//
// Each call parses the data afresh; callers should load once and share the
// registry.
func Load() (*Registry, error) {
	fsys, err := fs.Sub(embedded, "data")
	if err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	return load(fsys)
}

// load is Load reading from fsys, so that tests can supply broken data.
func load(fsys fs.FS) (*Registry, error) {
	var s2020, s202501, s202507 unitSet
	var mapping mappingSet
	for _, f := range []struct {
		name string
		v    any
	}{
		{file2020, &s2020},
		{file202501, &s202501},
		{file202507, &s202507},
		{fileMapping, &mapping},
	} {
		data, err := fs.ReadFile(fsys, f.name)
		if err != nil {
			return nil, fmt.Errorf("units: %w", err)
		}
		if err := json.Unmarshal(data, f.v); err != nil {
			return nil, fmt.Errorf("units: %s: %w", f.name, err)
		}
	}

	// The three sets must follow each other day by day: the districts run
	// unchanged across the first two, and a day without any unit in force
	// would leave cases of that day without a unit.
	if err := checkSet(file2020, &s2020, true); err != nil {
		return nil, err
	}
	if err := checkSet(file202501, &s202501, true); err != nil {
		return nil, err
	}
	if err := checkSet(file202507, &s202507, false); err != nil {
		return nil, err
	}
	if err := checkFollows(file202501, &s202501, file2020, &s2020); err != nil {
		return nil, err
	}
	if err := checkFollows(file202507, &s202507, file202501, &s202501); err != nil {
		return nil, err
	}

	b := &builder{units: make(map[Key]Unit), file: make(map[Key]string)}
	city := Unit{
		Key:   Key{cityCode, s2020.ValidFrom},
		Name:  cityName,
		Type:  cityType,
		Level: LevelCity,
	}
	if err := b.add(file2020, city); err != nil {
		return nil, err
	}
	if err := b.addDistricts(&s2020, &s202501, city.Key); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		file string
		set  *unitSet
	}{
		{file2020, &s2020},
		{file202501, &s202501},
		{file202507, &s202507},
	} {
		if err := b.addCommunes(s.file, s.set, city.Key); err != nil {
			return nil, err
		}
	}
	if err := b.checkParents(); err != nil {
		return nil, err
	}
	r := b.registry()
	if err := r.checkVersions(b.file); err != nil {
		return nil, err
	}
	preds, err := r.links(&mapping, &s202501, &s202507)
	if err != nil {
		return nil, err
	}
	r.preds = preds
	return r, nil
}

// checkSet checks the dates and province of a unit file. hasEnd says
// whether the set has ended, that is, whether it must have a valid_to.
func checkSet(file string, s *unitSet, hasEnd bool) error {
	switch {
	case s.ValidFrom.IsZero():
		return fmt.Errorf("units: %s: missing valid_from", file)
	case hasEnd && s.ValidTo.IsZero():
		return fmt.Errorf("units: %s: missing valid_to", file)
	case !hasEnd && !s.ValidTo.IsZero():
		return fmt.Errorf("units: %s: unexpected valid_to %s", file, s.ValidTo)
	case hasEnd && s.ValidTo.Before(s.ValidFrom):
		return fmt.Errorf("units: %s: valid_to %s is before valid_from %s", file, s.ValidTo, s.ValidFrom)
	}
	city := Unit{Name: cityName, Type: cityType}
	if s.Province.Code != cityCode || s.Province.Name != city.FullName() {
		return fmt.Errorf("units: %s: province is %s %q, want %s %q",
			file, s.Province.Code, s.Province.Name, cityCode, city.FullName())
	}
	return nil
}

// checkFollows checks that set s starts on the day after set prev ends.
func checkFollows(file string, s *unitSet, prevFile string, prev *unitSet) error {
	if want := prev.ValidTo.AddDays(1); s.ValidFrom != want {
		return fmt.Errorf("units: %s: valid_from is %s, want %s, the day after %s ends",
			file, s.ValidFrom, want, prevFile)
	}
	return nil
}

// A builder collects units while they are read, remembering the file each
// came from so that errors found later can name it.
type builder struct {
	units map[Key]Unit
	file  map[Key]string
}

// add checks u on its own and adds it.
func (b *builder) add(file string, u Unit) error {
	if err := checkUnit(u); err != nil {
		return fmt.Errorf("units: %s: %s %s: %w", file, u.Level, u.Key, err)
	}
	if _, dup := b.units[u.Key]; dup {
		return fmt.Errorf("units: %s: duplicate unit %s (also in %s)", file, u.Key, b.file[u.Key])
	}
	b.units[u.Key] = u
	b.file[u.Key] = file
	return nil
}

// checkUnit checks the fields of u that do not depend on other units.
func checkUnit(u Unit) error {
	// GSO codes are zero-padded to a fixed width per level.
	width := map[Level]int{LevelCity: 2, LevelDistrict: 3, LevelCommune: 5}[u.Level]
	if !isDigits(u.Code) || len(u.Code) != width {
		return fmt.Errorf("code %q is not %d digits", u.Code, width)
	}
	if u.Name == "" || strings.TrimSpace(u.Name) != u.Name {
		return fmt.Errorf("bad name %q", u.Name)
	}
	// Names are compared byte by byte (with each other, and with the
	// mapping), and Vietnamese letters can be written in more than one way
	// in Unicode, so all names must use the same form.
	if !norm.NFC.IsNormalString(u.Name) {
		return fmt.Errorf("name %q is not in Unicode NFC", u.Name)
	}
	if t, ok := unitTypes[u.Type]; !ok || t.level != u.Level {
		return fmt.Errorf("type %q is not a type of %s", u.Type, u.Level)
	}
	if !u.ValidTo.IsZero() && u.ValidTo.Before(u.ValidFrom) {
		return fmt.Errorf("valid_to %s is before valid_from %s", u.ValidTo, u.ValidFrom)
	}
	return nil
}

// addDistricts adds the districts, which are the same in the 2020 and
// 2025-01 files: each is added once, in force from the start of the first
// set to the end of the second.
func (b *builder) addDistricts(first, second *unitSet, city Key) error {
	inSecond := make(map[string]record)
	for _, d := range second.Districts {
		inSecond[d.Code] = d
	}
	if len(inSecond) != len(first.Districts) {
		return fmt.Errorf("units: %s: %d districts, but %d in %s",
			file202501, len(inSecond), len(first.Districts), file2020)
	}
	for _, d := range first.Districts {
		d2, ok := inSecond[d.Code]
		if !ok {
			return fmt.Errorf("units: %s: district %s of %s is missing", file202501, d.Code, file2020)
		}
		if d2.Name != d.Name || d2.Type != d.Type {
			return fmt.Errorf("units: %s: district %s is %q (%s), but %q (%s) in %s",
				file202501, d.Code, d2.Name, d2.Type, d.Name, d.Type, file2020)
		}
		u := Unit{
			Key:     Key{d.Code, first.ValidFrom},
			Name:    d.Name,
			Type:    d.Type,
			Level:   LevelDistrict,
			Parent:  city,
			ValidTo: second.ValidTo,
		}
		if err := b.add(file2020, u); err != nil {
			return err
		}
	}
	return nil
}

// addCommunes adds the communes of one file. A commune's parent is its
// district where the file names one, and the city otherwise. Districts are
// keyed by the start of the 2020 set, when they all began.
func (b *builder) addCommunes(file string, s *unitSet, city Key) error {
	for _, c := range s.Communes {
		parent := city
		if c.District != "" {
			parent = Key{c.District, city.ValidFrom}
		}
		u := Unit{
			Key:     Key{c.Code, s.ValidFrom},
			Name:    c.Name,
			Type:    c.Type,
			Level:   LevelCommune,
			Parent:  parent,
			ValidTo: s.ValidTo,
		}
		if err := b.add(file, u); err != nil {
			return err
		}
	}
	return nil
}

// checkParents checks that every unit but the city has a parent of a
// higher level that is in force on every day the unit is.
func (b *builder) checkParents() error {
	for _, u := range b.units {
		if u.Level == LevelCity {
			continue
		}
		p, ok := b.units[u.Parent]
		switch {
		case !ok:
			return fmt.Errorf("units: %s: %s: parent %s does not exist", b.file[u.Key], u.Key, u.Parent)
		case p.Level >= u.Level:
			return fmt.Errorf("units: %s: %s: parent %s is a %s, not above a %s",
				b.file[u.Key], u.Key, p.Key, p.Level, u.Level)
		case !covers(p, u):
			return fmt.Errorf("units: %s: %s (%s): parent %s (%s) is not in force over that time",
				b.file[u.Key], u.Key, span(u), p.Key, span(p))
		}
	}
	return nil
}

// covers reports whether p is in force on every day that u is.
func covers(p, u Unit) bool {
	if u.ValidFrom.Before(p.ValidFrom) {
		return false
	}
	if p.ValidTo.IsZero() {
		return true
	}
	return !u.ValidTo.IsZero() && !u.ValidTo.After(p.ValidTo)
}

// span formats the validity of u for error messages.
func span(u Unit) string {
	if u.ValidTo.IsZero() {
		return u.ValidFrom.String() + "…"
	}
	return u.ValidFrom.String() + "…" + u.ValidTo.String()
}

// registry builds the lookup structures from the collected units.
func (b *builder) registry() *Registry {
	r := &Registry{
		units:  b.units,
		byCode: make(map[string][]Unit),
		all:    make([]Unit, 0, len(b.units)),
	}
	for _, u := range b.units {
		r.all = append(r.all, u)
	}
	slices.SortFunc(r.all, func(a, b Unit) int { return a.Key.Compare(b.Key) })
	// Appending in sorted order leaves each code's versions sorted too.
	for _, u := range r.all {
		r.byCode[u.Code] = append(r.byCode[u.Code], u)
	}
	return r
}

// checkVersions checks that no two versions of a code are in force on the
// same day. [Registry.InForce] relies on this.
func (r *Registry) checkVersions(file map[Key]string) error {
	for _, versions := range r.byCode {
		for i := 1; i < len(versions); i++ {
			prev, u := versions[i-1], versions[i]
			if prev.ValidTo.IsZero() || !prev.ValidTo.Before(u.ValidFrom) {
				return fmt.Errorf("units: %s: %s (%s) overlaps %s (%s) from %s",
					file[u.Key], u.Key, span(u), prev.Key, span(prev), file[prev.Key])
			}
		}
	}
	return nil
}

// links checks the mapping file against the registry and returns the links
// of each new commune.
func (r *Registry) links(m *mappingSet, oldSet, newSet *unitSet) (map[Key][]Link, error) {
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("units: %s: "+format, append([]any{fileMapping}, args...)...)
	}
	if m.ValidFrom != newSet.ValidFrom {
		return nil, errorf("valid_from is %s, want %s as in %s", m.ValidFrom, newSet.ValidFrom, file202507)
	}

	// lookup finds the unit a mapping record names, and checks that the
	// record agrees with it.
	lookup := func(rec record, from vntime.Date, file string) (Unit, error) {
		k := Key{rec.Code, from}
		u, ok := r.units[k]
		if !ok || u.Level != LevelCommune {
			return Unit{}, errorf("%s is not a commune of %s", k, file)
		}
		if u.Name != rec.Name || u.Type != rec.Type {
			return Unit{}, errorf("%s is %s %q here, but %s %q in %s", k, rec.Type, rec.Name, u.Type, u.Name, file)
		}
		if rec.District != "" && rec.District != u.Parent.Code {
			return Unit{}, errorf("%s is in district %s here, but in %s in %s", k, rec.District, u.Parent.Code, file)
		}
		return u, nil
	}

	preds := make(map[Key][]Link)
	type use struct{ links, full int }
	uses := make(map[Key]use) // how often each old commune is linked
	for _, e := range m.Mapping {
		to, err := lookup(e.record, newSet.ValidFrom, file202507)
		if err != nil {
			return nil, err
		}
		if _, dup := preds[to.Key]; dup {
			return nil, errorf("%s is mapped twice", to.Key)
		}
		if len(e.From) == 0 {
			return nil, errorf("%s has no old communes", to.Key)
		}
		var links []Link
		for _, f := range e.From {
			from, err := lookup(f.record, oldSet.ValidFrom, file202501)
			if err != nil {
				return nil, err
			}
			if f.Link != "full" && f.Link != "partial" {
				return nil, errorf("%s <- %s: link %q is neither full nor partial", to.Key, from.Key, f.Link)
			}
			if slices.ContainsFunc(links, func(l Link) bool { return l.From == from.Key }) {
				return nil, errorf("%s <- %s: duplicate link", to.Key, from.Key)
			}
			links = append(links, Link{From: from.Key, Full: f.Link == "full"})
			n := uses[from.Key]
			n.links++
			if f.Link == "full" {
				n.full++
			}
			uses[from.Key] = n
		}
		slices.SortFunc(links, func(a, b Link) int { return strings.Compare(a.From.Code, b.From.Code) })
		preds[to.Key] = links
	}

	for _, c := range newSet.Communes {
		if k := (Key{c.Code, newSet.ValidFrom}); preds[k] == nil {
			return nil, errorf("%s of %s is not mapped", k, file202507)
		}
	}
	// Every old commune ended on the day before the reform, so each went
	// somewhere: either whole, into exactly one new commune, or split
	// between at least two.
	for _, c := range oldSet.Communes {
		k := Key{c.Code, oldSet.ValidFrom}
		switch n := uses[k]; {
		case n.links == 0:
			return nil, errorf("%s of %s is not mapped to any new commune", k, file202501)
		case n.full > 0 && n.links > 1:
			return nil, errorf("%s went whole into one new commune but has %d links", k, n.links)
		case n.full == 0 && n.links == 1:
			return nil, errorf("%s has a single link, which is partial", k)
		}
	}
	return preds, nil
}
