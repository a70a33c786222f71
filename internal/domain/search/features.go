package search

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// TokenSize is how many bytes of the HMAC a token keeps. 64 bits are
// enough: two values meet by accident with a chance of about one in 2^64
// per pair, so an index of 10^8 postings over some 10^8 distinct values
// expects well under one such meeting in all (the birthday bound,
// n²/2^65), and a meeting only adds a candidate that the other fields
// rank low. They are not enough to guess back from: the token is a MAC
// under a key the database never holds. Half of 128 bits halves the
// index's largest part (the README's "A million cases" measures it).
const TokenSize = datastore.SearchTokenSize

// A feature is one normalised value of a person, under the kind that
// says what it is. Only its token (Token) is ever stored.
type feature struct {
	kind  string
	value string
}

// Kinds of feature. A kind is part of what is MAC'd, so a phone never
// matches a name that happens to read alike.
const (
	kindChildName  = "child.name"  // a whole name: as written, or given name first
	kindChildShort = "child.short" // family and given name, without the middle names
	kindChildPart  = "child.part"  // every syllable but one, sorted: one typo, any order
	kindChildGiven = "child.given" // the given name within a commune
	// A name with the birth date: the syllables of the whole name in
	// sorted order, or a child.short or child.part value, then the date.
	// Few children share one at any size of the city, so a search with a
	// birth date finds its child by one short posting list, where the name
	// alone or the date alone are shared by more children the more cases
	// there are.
	kindChildNameDate  = "child.name+birthdate"
	kindChildShortDate = "child.short+birthdate"
	kindChildPartDate  = "child.part+birthdate"
	kindBirthDate      = "child.birthdate" // yyyy-mm-dd
	kindBirthYear      = "child.birthyear" // yyyy, or the years an estimated age allows
	kindCommune        = "commune"         // a commune, with its 2025 predecessors and successors
	kindPhone          = "phone"           // E.164, of a caregiver
	kindCaregiver      = "caregiver.name"  // as kindChildName, for caregivers
	kindCaregiverSh    = "caregiver.short"
	kindCaregiverPt    = "caregiver.part"
	// The reporter's phone and name, as a caregiver's but under kinds of
	// their own: only a query that may match the reporter looks them up
	// (Query.Reporters).
	kindReporterPhone = "reporter.phone"
	kindReporter      = "reporter.name"
	kindReporterSh    = "reporter.short"
	kindReporterPt    = "reporter.part"
)

// nameKinds are the kinds a name's features go under.
type nameKinds struct{ whole, short, part string }

// weight is the weight of a feature of kind: whole, short or part as kind
// is k's whole, short or part name, and 0 for another kind.
func (k nameKinds) weight(kind string, whole, short, part float64) float64 {
	switch kind {
	case k.whole:
		return whole
	case k.short:
		return short
	case k.part:
		return part
	}
	return 0
}

var (
	childName     = nameKinds{kindChildName, kindChildShort, kindChildPart}
	caregiverName = nameKinds{kindCaregiver, kindCaregiverSh, kindCaregiverPt}
	reporterName  = nameKinds{kindReporter, kindReporterSh, kindReporterPt}
)

// Field names a query field, as a candidate's matched fields list them.
type Field string

// The query fields.
const (
	FieldChildName     Field = "child_name"
	FieldBirthDate     Field = "birth_date"
	FieldBirthYear     Field = "birth_year"
	FieldPhone         Field = "phone"
	FieldCommune       Field = "commune"
	FieldCaregiverName Field = "caregiver_name"
)

// A tokenizer makes the tokens of features under one key with one HMAC,
// reset for each, and hands them out of shared chunks: a report's entry
// is some 40 tokens and a search's some 30, and a new HMAC for each (two
// SHA-256 blocks of its key's pads, and their allocations) cost more
// than the token itself.
type tokenizer struct {
	mac     hash.Hash
	in, sum []byte
	free    []byte // the rest of the chunk tokens are cut from
}

func newTokenizer(key []byte) *tokenizer { return &tokenizer{mac: hmac.New(sha256.New, key)} }

// token returns the blind index token of f under the tokenizer's key: the
// first TokenSize bytes of HMAC-SHA256(key, kind 0x00 value). Without the
// key, a token says nothing of the value, not even to someone who can
// guess it. The token is the caller's: no later one shares its bytes.
func (t *tokenizer) token(f feature) []byte {
	t.in = append(append(append(t.in[:0], f.kind...), 0), f.value...)
	t.mac.Reset()
	t.mac.Write(t.in)
	t.sum = t.mac.Sum(t.sum[:0])
	if len(t.free) < TokenSize {
		t.free = make([]byte, 64*TokenSize)
	}
	tok := t.free[:TokenSize:TokenSize]
	t.free = t.free[TokenSize:]
	copy(tok, t.sum)
	return tok
}

// nameFeatures returns the features of a name: the name as written and
// given name first ("Nhung Nguyễn Thị Hồng") as whole names; family and
// given name without the middle names (short); and, for names of three
// syllables or more, each set of all syllables but one, sorted (part), so
// that one mistyped syllable or another order still meets one of them.
func nameFeatures(syl []string, k nameKinds) []feature {
	if len(syl) == 0 {
		return nil
	}
	n := len(syl)
	out := []feature{{k.whole, strings.Join(syl, " ")}}
	if n >= 2 {
		reversed := append([]string{syl[n-1]}, syl[:n-1]...)
		out = append(out, feature{k.whole, strings.Join(reversed, " ")})
	}
	if n >= 3 {
		out = append(out, feature{k.short, syl[0] + " " + syl[n-1]})
		for i := range syl {
			rest := slices.Concat(syl[:i], syl[i+1:])
			slices.Sort(rest)
			out = append(out, feature{k.part, strings.Join(rest, " ")})
		}
	}
	return out
}

// queryNameFeatures returns the features a query's name looks up: those
// of nameFeatures; for a name of two syllables also that name as the
// short form (family and given name, either order) of a longer name,
// since a second caller often knows a child by those two and not the
// middle names, which nameFeatures gives only a name of three or more;
// and the name's syllables sorted as a part (all syllables but one) of a
// name one syllable longer: a caller who leaves out the family name or a
// middle name ("Thị Hồng Nhung", "Hồng Nhung" for "Nguyễn Hồng Nhung") is
// one syllable off too.
func queryNameFeatures(syl []string, k nameKinds) []feature {
	out := nameFeatures(syl, k)
	if len(syl) == 2 {
		out = append(out, feature{k.short, syl[0] + " " + syl[1]}, feature{k.short, syl[1] + " " + syl[0]})
	}
	if len(syl) >= 2 {
		out = append(out, feature{k.part, strings.Join(slices.Sorted(slices.Values(syl)), " ")})
	}
	return out
}

// withDate returns the features of a name with the birth date: each of
// the name's features (nameFeatures) as dated makes it.
func withDate(syl []string, birth vntime.Date) []feature {
	var out []feature
	for _, f := range nameFeatures(syl, childName) {
		if d, ok := dated(f, birth); ok && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// dated returns a child's name feature with the birth date: the whole
// name's syllables sorted (so the name as written and given name first
// are one value), the name without middle names, or all syllables but
// one, each followed by the date.
func dated(f feature, birth vntime.Date) (feature, bool) {
	date := " " + birth.String()
	switch f.kind {
	case kindChildName:
		return feature{kindChildNameDate, strings.Join(slices.Sorted(strings.SplitSeq(f.value, " ")), " ") + date}, true
	case kindChildShort:
		return feature{kindChildShortDate, f.value + date}, true
	case kindChildPart:
		return feature{kindChildPartDate, f.value + date}, true
	}
	return feature{}, false
}

// communes returns the communes that k may be searched under: k, and the
// communes of the other side of the 2025 reform that it came from or went
// into (wholly or in part), so a child recorded under an old commune is
// found under the new one and the other way round.
func communes(reg *units.Registry, k units.Key) []string {
	if k.IsZero() {
		return nil
	}
	out := []string{k.String()}
	if reg == nil {
		return out
	}
	for _, l := range reg.Predecessors(k) {
		out = append(out, l.From.String())
	}
	for _, s := range reg.Successors(k) {
		out = append(out, s.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// queryCommunes returns the communes a query's commune k looks up: those
// of communes, each with the versions of the same commune before and
// after it (units.Registry.Versions): a commune of 2020 that kept its code
// and name into 2025-01 is the same place, though the data link neither
// set to the other. So a search under today's Phường Ba Đình finds a case
// of 2023 recorded under Trúc Bạch, one of its 2025-01 predecessors, and
// an intake of a report of 2023 (Trúc Bạch of 2020) finds today's case.
// Only the query widens: the index keeps each case's communes as written,
// so no entry changes.
func queryCommunes(reg *units.Registry, k units.Key) []string {
	if k.IsZero() || reg == nil {
		return communes(reg, k)
	}
	var out []string
	for _, v := range reg.Versions(k) {
		for _, c := range communes(reg, v) {
			kc, err := units.ParseKey(c)
			if err != nil {
				out = append(out, c)
				continue
			}
			for _, w := range reg.Versions(kc) {
				out = append(out, w.String())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// communeCache keeps the queryCommunes of each commune a search asked for:
// the registry does not change once loaded, and every report's query
// asks for those of its commune again (in Phường Ba Đình two dozen
// versions and neighbours, each looked up and made a string).
type communeCache struct {
	reg  *units.Registry
	keys sync.Map // units.Key -> []string, which no one changes
}

func newCommuneCache(reg *units.Registry) *communeCache { return &communeCache{reg: reg} }

// of returns queryCommunes(reg, k), shared: the caller must not change it.
func (c *communeCache) of(k units.Key) []string {
	if v, ok := c.keys.Load(k); ok {
		return v.([]string)
	}
	cms := queryCommunes(c.reg, k)
	c.keys.Store(k, cms)
	return cms
}

// birthYears returns the birth years a child's age allows on day: the
// year of the birth date, or for an estimated age the years within spread
// of the two it allows exactly (day.Year-age-1 and day.Year-age).
func birthYears(birth vntime.Date, estimated *int32, day vntime.Date, spread int) []string {
	if !birth.IsZero() {
		return []string{strconv.Itoa(birth.Year)}
	}
	if estimated == nil {
		return nil
	}
	var out []string
	for y := day.Year - int(*estimated) - 1 - spread; y <= day.Year-int(*estimated)+spread; y++ {
		out = append(out, strconv.Itoa(y))
	}
	return out
}

// reportFeatures returns what the index holds of a report: for each child
// their name, birth date and year (or the years an estimated age allows),
// and their given name within each of their communes (where they live and
// where it happened); the report's communes; the caregivers' and the
// reporter's names and phones (the reporter's only when they gave them,
// under kinds of their own, which only some callers' queries look up).
func reportFeatures(reg *units.Registry, r model.Report) []feature {
	day := vntime.DateOf(r.ReceiveTime)
	var out []feature
	incident := communes(reg, r.IncidentUnit)
	for _, c := range incident {
		out = append(out, feature{kindCommune, c})
	}
	for _, c := range r.Children {
		syl := Syllables(c.FullName)
		out = append(out, nameFeatures(syl, childName)...)
		if !c.BirthDate.IsZero() {
			out = append(out, feature{kindBirthDate, c.BirthDate.String()})
			out = append(out, withDate(syl, c.BirthDate)...)
		}
		for _, y := range birthYears(c.BirthDate, c.EstimatedAge, day, 0) {
			out = append(out, feature{kindBirthYear, y})
		}
		where := slices.Concat(incident, communes(reg, c.ResidenceUnit))
		for _, cm := range where {
			out = append(out, feature{kindCommune, cm})
			if len(syl) > 0 {
				out = append(out, feature{kindChildGiven, syl[len(syl)-1] + "@" + cm})
			}
		}
	}
	for _, g := range r.Caregivers {
		out = append(out, nameFeatures(Syllables(g.FullName), caregiverName)...)
		if p := Phone(g.Phone); p != "" {
			out = append(out, feature{kindPhone, p})
		}
	}
	if !r.Reporter.Anonymous && !r.Reporter.Withheld {
		out = append(out, nameFeatures(Syllables(r.Reporter.FullName), reporterName)...)
		if p := Phone(r.Reporter.Phone); p != "" {
			out = append(out, feature{kindReporterPhone, p})
		}
	}
	return out
}

// Tokens returns the sorted, distinct tokens of the reports under key.
func Tokens(key []byte, reg *units.Registry, reports ...model.Report) [][]byte {
	var out [][]byte
	t := newTokenizer(key)
	for _, r := range reports {
		for _, f := range reportFeatures(reg, r) {
			out = append(out, t.token(f))
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return slices.CompactFunc(out, bytes.Equal)
}

// Query is what a search looks for; empty fields are not looked for.
type Query struct {
	ChildName string
	BirthDate vntime.Date
	BirthYear int
	// EstimatedAge, with Day, stands for a birth year when the caller only
	// knows about how old the child is.
	EstimatedAge *int32
	Day          vntime.Date
	Phone        string
	Commune      units.Key
	// CommuneCode, if set, is the GSO code of a commune in force on the
	// day of the search; Search resolves it into Commune.
	CommuneCode   string
	CaregiverName string
	// Reporters says the phone and the caregiver's name may also match a
	// case's reporters: only for a caller who may know who reported
	// (access.Principal.MayKnowReporter), since for anyone else a match
	// would confirm a guess at the reporter's sealed identity. The search
	// sets it from the caller.
	Reporters bool `json:"-"`
	// need is the least score a candidate needs, MinScore when 0: a
	// search whose fields cannot reach MinScore needs all they can reach
	// (Search sets it), so that a search by a caregiver's name, a birth
	// date or a commune alone finds the cases that match it.
	need float64
	// scopes, when scoped, are the scope keys of the cases the caller's
	// search may show (access.Policy.SearchScope): a token's cases are
	// read among them only, so that cases out of the caller's scope,
	// however many and however new, never stand before theirs.
	scopes []string
	held   []units.Key // with scopes, the units whose held cases it may show
	scoped bool
}

// least is the least score a candidate of q needs.
func (q Query) least() float64 {
	if q.need > 0 {
		return q.need
	}
	return MinScore
}

// reach is the most a case can score on the probes of a query: the best
// weight of each field they look up, summed.
func reach(probes []probe) float64 {
	var best [len(scoreFields)]float64
	for _, p := range probes {
		i := fieldIndex(p.field)
		best[i] = max(best[i], p.weight)
		if p.also != "" {
			j := fieldIndex(p.also)
			best[j] = max(best[j], p.alsoWeight)
		}
	}
	var sum float64
	for _, w := range best {
		sum += w
	}
	return sum
}

// Empty reports whether q looks for nothing.
func (q Query) Empty() bool {
	return Fold(q.ChildName) == "" && q.BirthDate.IsZero() && q.BirthYear == 0 && q.EstimatedAge == nil &&
		Phone(q.Phone) == "" && q.Commune.IsZero() && q.CommuneCode == "" && Fold(q.CaregiverName) == ""
}

// A probe is one feature a search looks up, the field it stands for and
// what a match adds to a candidate's score. A candidate scores, per field,
// the best weight among the probes of that field it matches.
type probe struct {
	feature
	field  Field
	weight float64
	// also is a second field a match adds to, and alsoWeight its weight:
	// a name with the birth date matches both fields at once.
	also       Field
	alsoWeight float64
	// dated is, for a child's name with a birth date in the query, the
	// feature of the name with that date (hasDated): a case that matches
	// both the name and the date is under it.
	dated    feature
	hasDated bool
	// id is the place in the query's probes of the first probe of the
	// same feature, datedID that of dated (-1 without it), and slot the
	// place of field in scoreFields: a search keeps what it has read of
	// each feature by these (numberProbes), as it asks that many times
	// for each probe.
	id, datedID, slot int
	alsoSlot          int // the place of also in scoreFields
}

// numberProbes gives each probe its feature's id and datedID, the place of
// the first probe of the same feature (a query may look a feature up
// twice, such as a birth year given and the year of a birth date), and
// its slot.
func numberProbes(probes []probe) {
	first := make(map[feature]int, len(probes))
	for i := range probes {
		probes[i].slot = fieldIndex(probes[i].field)
		if probes[i].also != "" {
			probes[i].alsoSlot = fieldIndex(probes[i].also)
		}
		if j, ok := first[probes[i].feature]; ok {
			probes[i].id = j
		} else {
			first[probes[i].feature], probes[i].id = i, i
		}
	}
	for i := range probes {
		probes[i].datedID = -1
		if j, ok := first[probes[i].dated]; ok && probes[i].hasDated {
			probes[i].datedID = j
		}
	}
}

// Weights: a whole name or a phone nearly identifies a child; a name with
// one syllable off, a birth date or a caregiver's name is strong support;
// a year, a commune or a given name alone only break ties.
const (
	weightName      = 6
	weightNamePart  = 4
	weightNameShort = 3
	weightGiven     = 2
	weightBirthDate = 3
	weightBirthYear = 1
	weightPhone     = 5
	weightCommune   = 1
	weightCaregiver = 3
	weightCarePart  = 2
	weightCareShort = 2
	// MinScore is the least score a candidate needs: a whole name, a
	// phone, or a name one syllable off with one more sign (the commune,
	// a birth year). One syllable off alone would bring every child of
	// the same family and middle name: the quality corpus showed it
	// (precision@5 without diacritics 0.43 at 4, 0.96 at 5, recall 1.0
	// at both).
	MinScore = 5
)

// probes returns the features a query looks up.
func (q Query) probes(communes *communeCache) []probe {
	// Room for the probes of a report's query (a name, a commune and its
	// versions, a caregiver, a phone: 90 in Phường Ba Đình): a probe is
	// large, and growing the slice copied each many times.
	out := make([]probe, 0, 96)
	add := func(field Field, weight float64, fs ...feature) {
		for _, f := range fs {
			out = append(out, probe{feature: f, field: field, weight: weight})
		}
	}
	syl := Syllables(q.ChildName)
	for _, f := range queryNameFeatures(syl, childName) {
		add(FieldChildName, childName.weight(f.kind, weightName, weightNameShort, weightNamePart), f)
		if !q.BirthDate.IsZero() {
			p := &out[len(out)-1]
			p.dated, p.hasDated = dated(f, q.BirthDate)
		}
	}
	var cms []string
	if !q.Commune.IsZero() {
		cms = communes.of(q.Commune)
		for _, c := range cms {
			add(FieldCommune, weightCommune, feature{kindCommune, c})
		}
	}
	if len(syl) > 0 {
		// The given name is the last syllable, or the first when the
		// name was written given name first.
		givens := slices.Compact([]string{syl[len(syl)-1], syl[0]})
		for _, c := range cms {
			for _, g := range givens {
				add(FieldChildName, weightGiven, feature{kindChildGiven, g + "@" + c})
			}
		}
	}
	if !q.BirthDate.IsZero() {
		add(FieldBirthDate, weightBirthDate, feature{kindBirthDate, q.BirthDate.String()})
		for _, p := range slices.Clone(out) {
			if p.hasDated && !slices.ContainsFunc(out, func(o probe) bool { return o.feature == p.dated }) {
				out = append(out, probe{feature: p.dated, field: FieldChildName, weight: p.weight, also: FieldBirthDate, alsoWeight: weightBirthDate})
			}
		}
	}
	years := birthYears(q.BirthDate, q.EstimatedAge, q.Day, 1)
	if q.BirthYear != 0 {
		years = append(years, strconv.Itoa(q.BirthYear))
	}
	for _, y := range years {
		add(FieldBirthYear, weightBirthYear, feature{kindBirthYear, y})
	}
	phones, names := []string{kindPhone}, []nameKinds{caregiverName}
	if q.Reporters {
		phones, names = append(phones, kindReporterPhone), append(names, reporterName)
	}
	if p := Phone(q.Phone); p != "" {
		for _, kind := range phones {
			add(FieldPhone, weightPhone, feature{kind, p})
		}
	}
	for _, kinds := range names {
		for _, f := range queryNameFeatures(Syllables(q.CaregiverName), kinds) {
			add(FieldCaregiverName, kinds.weight(f.kind, weightCaregiver, weightCareShort, weightCarePart), f)
		}
	}
	numberProbes(out)
	return out
}

// QueryOfReport returns the query a new report makes for candidates at
// intake: its first named child, the first phone and caregiver it gives,
// and where it happened.
func QueryOfReport(r model.Report) Query {
	q := Query{Commune: r.IncidentUnit, Day: vntime.DateOf(r.ReceiveTime)}
	for _, c := range r.Children {
		if Fold(c.FullName) == "" {
			continue
		}
		q.ChildName, q.BirthDate, q.EstimatedAge = c.FullName, c.BirthDate, c.EstimatedAge
		break
	}
	for _, g := range r.Caregivers {
		if q.CaregiverName == "" {
			q.CaregiverName = g.FullName
		}
		if q.Phone == "" {
			q.Phone = g.Phone
		}
	}
	if q.Phone == "" && !r.Reporter.Anonymous {
		q.Phone = r.Reporter.Phone
	}
	return q
}
