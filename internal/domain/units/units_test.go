package units

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// loadOnce shares one registry between tests; it is immutable.
var loadOnce = sync.OnceValues(Load)

func registry(t testing.TB) *Registry {
	t.Helper()
	r, err := loadOnce()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

func date(t testing.TB, s string) vntime.Date {
	t.Helper()
	d, err := vntime.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func key(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCity(t *testing.T) {
	r := registry(t)
	cities := r.List(Filter{Level: LevelCity})
	if len(cities) != 1 {
		t.Fatalf("%d cities, want 1: %v", len(cities), cities)
	}
	want := Unit{
		Key:   key(t, "01@2020-01-01"),
		Name:  "Hà Nội",
		Type:  "thanh_pho",
		Level: LevelCity,
	}
	if cities[0] != want {
		t.Errorf("city = %+v, want %+v", cities[0], want)
	}
	if got := cities[0].FullName(); got != "Thành phố Hà Nội" {
		t.Errorf("city FullName = %q", got)
	}
}

func TestDistricts(t *testing.T) {
	r := registry(t)
	city := key(t, "01@2020-01-01")
	tests := []struct {
		asOf string // "" = any
		want int
	}{
		{"", 30},
		{"2019-12-31", 0},
		{"2020-01-01", 30},
		{"2024-12-31", 30},
		{"2025-01-01", 30},
		{"2025-06-30", 30},
		{"2025-07-01", 0},
	}
	for _, tt := range tests {
		f := Filter{Level: LevelDistrict}
		if tt.asOf != "" {
			f.AsOf = date(t, tt.asOf)
		}
		got := r.List(f)
		if len(got) != tt.want {
			t.Errorf("districts as of %q: %d, want %d", tt.asOf, len(got), tt.want)
		}
		for _, d := range got {
			// Each district is a single version spanning both early sets.
			if d.ValidFrom != date(t, "2020-01-01") || d.ValidTo != date(t, "2025-06-30") || d.Parent != city {
				t.Errorf("district %+v: want 2020-01-01…2025-06-30 under the city", d)
			}
		}
	}
}

func TestCommuneCounts(t *testing.T) {
	r := registry(t)
	tests := []struct {
		on   string
		typ  string // "" = any
		want int
	}{
		{"2019-12-31", "", 0},
		{"2020-01-01", "", 579},
		{"2024-06-01", "", 579},
		{"2024-06-01", "phuong", 175},
		{"2024-06-01", "xa", 383},
		{"2024-06-01", "thi_tran", 21},
		{"2024-12-31", "", 579},
		{"2025-01-01", "", 526},
		{"2025-03-01", "", 526},
		{"2025-03-01", "phuong", 160},
		{"2025-06-30", "", 526},
		{"2025-07-01", "", 126},
		{"2025-07-01", "phuong", 51},
		{"2025-07-01", "xa", 75},
		{"2025-07-01", "thi_tran", 0},
		{"2026-11-28", "", 126},
	}
	for _, tt := range tests {
		n := 0
		for _, u := range r.List(Filter{Level: LevelCommune, AsOf: date(t, tt.on)}) {
			if tt.typ == "" || u.Type == tt.typ {
				n++
			}
		}
		if n != tt.want {
			t.Errorf("communes of type %q on %s: %d, want %d", tt.typ, tt.on, n, tt.want)
		}
	}
}

func TestInForce(t *testing.T) {
	r := registry(t)
	tests := []struct {
		code, on string
		ok       bool
		name     string
		typ      string
		from, to string // validity of the version found; to "" = open
		parent   string // key of the parent
	}{
		{"00004", "2024-06-01", true, "Trúc Bạch", "phuong", "2020-01-01", "2024-12-31", "001@2020-01-01"},
		{"00004", "2025-03-01", true, "Trúc Bạch", "phuong", "2025-01-01", "2025-06-30", "001@2020-01-01"},
		{"00004", "2025-07-01", true, "Ba Đình", "phuong", "2025-07-01", "", "01@2020-01-01"},
		{"00004", "2026-11-28", true, "Ba Đình", "phuong", "2025-07-01", "", "01@2020-01-01"},
		{"00235", "2024-12-31", true, "Ngã Tư Sở", "phuong", "2020-01-01", "2024-12-31", "006@2020-01-01"},
		{"00235", "2025-01-01", true, "Thịnh Quang", "phuong", "2025-01-01", "2025-06-30", "006@2020-01-01"},
		{"001", "2024-06-01", true, "Ba Đình", "quan", "2020-01-01", "2025-06-30", "01@2020-01-01"},
		{"001", "2025-06-30", true, "Ba Đình", "quan", "2020-01-01", "2025-06-30", "01@2020-01-01"},
		{"269", "2024-06-01", true, "Sơn Tây", "thi_xa", "2020-01-01", "2025-06-30", "01@2020-01-01"},
		{"01", "2030-01-01", true, "Hà Nội", "thanh_pho", "2020-01-01", "", ""},
		{"001", "2025-07-01", false, "", "", "", "", ""},              // districts abolished
		{"00004", "2019-12-31", false, "", "", "", "", ""},            // before the data
		{"01", "2019-12-31", false, "", "", "", "", ""},               // before the data
		{"00010", "2025-03-01", false, "", "", "", "", ""},            // removed on 2025-01-01
		{"99999", "2024-06-01", false, "", "", "", "", ""},            // unknown code
		{"", "2024-06-01", false, "", "", "", "", ""},                 // empty code
		{"00004", "0000-00-00", false, "", "", "", "", ""},            // zero date
		{"00004@2025-07-01", "2025-07-01", false, "", "", "", "", ""}, // a key is not a code
	}
	for _, tt := range tests {
		var on vntime.Date
		if tt.on != "0000-00-00" {
			on = date(t, tt.on)
		}
		u, ok := r.InForce(tt.code, on)
		if ok != tt.ok {
			t.Errorf("InForce(%q, %s) ok = %v, want %v (%+v)", tt.code, tt.on, ok, tt.ok, u)
			continue
		}
		if !ok {
			if u != (Unit{}) {
				t.Errorf("InForce(%q, %s) = %+v with ok false, want zero Unit", tt.code, tt.on, u)
			}
			continue
		}
		var to vntime.Date
		if tt.to != "" {
			to = date(t, tt.to)
		}
		var parent Key
		if tt.parent != "" {
			parent = key(t, tt.parent)
		}
		if u.Code != tt.code || u.Name != tt.name || u.Type != tt.typ ||
			u.ValidFrom != date(t, tt.from) || u.ValidTo != to || u.Parent != parent {
			t.Errorf("InForce(%q, %s) = %+v, want %s %q (%s) %s…%s under %q",
				tt.code, tt.on, u, tt.typ, tt.name, tt.code, tt.from, tt.to, tt.parent)
		}
		if !u.InForce(on) {
			t.Errorf("InForce(%q, %s) returned %+v, which is not in force then", tt.code, tt.on, u)
		}
		if got, ok := r.Get(u.Key); !ok || got != u {
			t.Errorf("Get(%s) = %+v, %v; want %+v, true", u.Key, got, ok, u)
		}
	}
}

func TestGet(t *testing.T) {
	r := registry(t)
	tests := []struct {
		key  string
		ok   bool
		full string
	}{
		{"00004@2020-01-01", true, "Phường Trúc Bạch"},
		{"00004@2025-07-01", true, "Phường Ba Đình"},
		{"001@2020-01-01", true, "Quận Ba Đình"},
		{"01@2020-01-01", true, "Thành phố Hà Nội"},
		{"00004@2025-07-02", false, ""}, // a date inside a version is not its key
		{"001@2025-01-01", false, ""},   // districts have one version
		{"99999@2020-01-01", false, ""},
	}
	for _, tt := range tests {
		u, ok := r.Get(key(t, tt.key))
		if ok != tt.ok || (ok && u.FullName() != tt.full) {
			t.Errorf("Get(%s) = %q, %v; want %q, %v", tt.key, u.FullName(), ok, tt.full, tt.ok)
		}
	}
	if _, ok := r.Get(Key{}); ok {
		t.Error("Get(Key{}) found a unit")
	}
}

func TestListParent(t *testing.T) {
	r := registry(t)
	baDinh := key(t, "001@2020-01-01")
	tests := []struct {
		asOf  string
		want  int
		first string // full name of the first unit listed
	}{
		{"2024-06-01", 14, "Phường Phúc Xá"},
		{"2025-03-01", 13, "Phường Phúc Xá"},
		{"2025-07-01", 0, ""},
	}
	for _, tt := range tests {
		got := r.List(Filter{Parent: baDinh, AsOf: date(t, tt.asOf)})
		if len(got) != tt.want {
			t.Errorf("List(parent 001, %s): %d units, want %d", tt.asOf, len(got), tt.want)
		}
		for _, u := range got {
			if u.Parent != baDinh || u.Level != LevelCommune || !u.InForce(date(t, tt.asOf)) {
				t.Errorf("List(parent 001, %s) returned %+v", tt.asOf, u)
			}
		}
		if len(got) > 0 && got[0].FullName() != tt.first {
			t.Errorf("List(parent 001, %s)[0] = %q, want %q", tt.asOf, got[0].FullName(), tt.first)
		}
	}
	// Both versions of Trúc Bạch are listed without AsOf.
	var truc []string
	for _, u := range r.List(Filter{Parent: baDinh}) {
		if u.Code == "00004" {
			truc = append(truc, u.Key.String())
		}
	}
	if want := []string{"00004@2020-01-01", "00004@2025-01-01"}; !slices.Equal(truc, want) {
		t.Errorf("versions of 00004 under 001 = %v, want %v", truc, want)
	}
	// The city is the parent of the districts and of the 2025-07 communes.
	city := key(t, "01@2020-01-01")
	if n := len(r.List(Filter{Parent: city, AsOf: date(t, "2025-07-01")})); n != 126 {
		t.Errorf("units under the city on 2025-07-01: %d, want 126", n)
	}
	if n := len(r.List(Filter{Parent: city, AsOf: date(t, "2025-06-30")})); n != 30 {
		t.Errorf("units under the city on 2025-06-30: %d, want 30", n)
	}
}

func TestListSorted(t *testing.T) {
	r := registry(t)
	all := r.List(Filter{})
	// 1 city + 30 districts + 579 + 526 + 126 communes.
	if want := 1 + 30 + 579 + 526 + 126; len(all) != want {
		t.Errorf("List(Filter{}): %d units, want %d", len(all), want)
	}
	sorted := slices.IsSortedFunc(all, func(a, b Unit) int {
		if c := strings.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		return a.ValidFrom.Compare(b.ValidFrom)
	})
	if !sorted {
		t.Error("List is not sorted by Code then ValidFrom")
	}
	// List returns a fresh slice: changing it does not change the registry.
	all[0].Name = "changed"
	if u, _ := r.Get(all[0].Key); u.Name == "changed" {
		t.Error("List exposes the registry's storage")
	}
	if again := r.List(Filter{}); again[0].Name == "changed" {
		t.Error("List exposes the registry's storage")
	}
}

func TestVersionsDoNotOverlap(t *testing.T) {
	r := registry(t)
	// Every unit is what InForce returns for its code on its first and last
	// day, which fails if two versions overlap.
	for _, u := range r.List(Filter{}) {
		days := []vntime.Date{u.ValidFrom}
		if !u.ValidTo.IsZero() {
			days = append(days, u.ValidTo)
		}
		for _, d := range days {
			if got, ok := r.InForce(u.Code, d); !ok || got.Key != u.Key {
				t.Errorf("InForce(%q, %s) = %s, %v; want %s", u.Code, d, got.Key, ok, u.Key)
			}
		}
	}
}

func TestPredecessors(t *testing.T) {
	r := registry(t)
	baDinh := key(t, "00004@2025-07-01")
	links := r.Predecessors(baDinh)
	if len(links) != 10 {
		t.Errorf("Predecessors(%s): %d links, want 10", baDinh, len(links))
	}
	wantLinks := []Link{
		{From: key(t, "00004@2025-01-01"), Full: true},  // Trúc Bạch
		{From: key(t, "00013@2025-01-01"), Full: true},  // Quán Thánh
		{From: key(t, "00016@2025-01-01"), Full: false}, // Ngọc Hà
	}
	for _, want := range wantLinks {
		if !slices.Contains(links, want) {
			t.Errorf("Predecessors(%s) = %v, want it to contain %v", baDinh, links, want)
		}
	}
	for _, l := range links {
		u, ok := r.Get(l.From)
		if !ok || u.Level != LevelCommune || u.ValidTo != date(t, "2025-06-30") {
			t.Errorf("link from %s: not a 2025-01 commune (%+v)", l.From, u)
		}
	}
	if !slices.IsSortedFunc(links, func(a, b Link) int { return strings.Compare(a.From.Code, b.From.Code) }) {
		t.Errorf("Predecessors(%s) not sorted by code: %v", baDinh, links)
	}
	// The returned slice is a copy.
	links[0].Full = !links[0].Full
	if r.Predecessors(baDinh)[0] == links[0] {
		t.Error("Predecessors exposes the registry's storage")
	}

	// Correction applied in the data: all of Sơn Đồng (Hoài Đức) went into
	// the new Sơn Đồng, and none of it into Đoài Phương.
	sonDong := Link{From: key(t, "09859@2025-01-01"), Full: true}
	if got := r.Predecessors(key(t, "09871@2025-07-01")); !slices.Contains(got, sonDong) {
		t.Errorf("Predecessors(09871@2025-07-01) = %v, want it to contain %v", got, sonDong)
	}
	for _, l := range r.Predecessors(key(t, "09616@2025-07-01")) {
		if l.From.Code == "09859" {
			t.Errorf("Predecessors(09616@2025-07-01) contains %v", l)
		}
	}

	total, full := 0, 0
	for _, u := range r.List(Filter{AsOf: date(t, "2025-07-01"), Level: LevelCommune}) {
		for _, l := range r.Predecessors(u.Key) {
			total++
			if l.Full {
				full++
			}
		}
	}
	if total != 795 || full != 327 {
		t.Errorf("mapping has %d links, %d full; want 795, 327", total, full)
	}

	for _, k := range []string{"00004@2025-01-01", "00004@2020-01-01", "001@2020-01-01", "99999@2025-07-01"} {
		if got := r.Predecessors(key(t, k)); got != nil {
			t.Errorf("Predecessors(%s) = %v, want nil", k, got)
		}
	}
}

func TestNamesNFC(t *testing.T) {
	r := registry(t)
	for _, u := range r.List(Filter{}) {
		for _, s := range []string{u.Name, u.FullName()} {
			if !norm.NFC.IsNormalString(s) {
				t.Errorf("%s: %q is not NFC", u.Key, s)
			}
		}
		if u.FullName() == u.Name {
			t.Errorf("%s: FullName %q has no prefix", u.Key, u.FullName())
		}
	}
}

func TestFullName(t *testing.T) {
	tests := []struct {
		typ, name, want string
	}{
		{"thanh_pho", "Hà Nội", "Thành phố Hà Nội"},
		{"quan", "Ba Đình", "Quận Ba Đình"},
		{"huyen", "Sóc Sơn", "Huyện Sóc Sơn"},
		{"thi_xa", "Sơn Tây", "Thị xã Sơn Tây"},
		{"phuong", "Ba Đình", "Phường Ba Đình"},
		{"xa", "Sơn Đồng", "Xã Sơn Đồng"},
		{"thi_tran", "Sóc Sơn", "Thị trấn Sóc Sơn"},
		{"", "Hà Nội", "Hà Nội"},
		{"tinh", "Hà Nội", "Hà Nội"},
	}
	for _, tt := range tests {
		if got := (Unit{Name: tt.name, Type: tt.typ}).FullName(); got != tt.want {
			t.Errorf("FullName of %s %q = %q, want %q", tt.typ, tt.name, got, tt.want)
		}
	}
}

func TestUnitInForce(t *testing.T) {
	closed := Unit{Key: Key{"00004", date(t, "2025-01-01")}, ValidTo: date(t, "2025-06-30")}
	open := Unit{Key: Key{"00004", date(t, "2025-07-01")}}
	tests := []struct {
		u    Unit
		on   string
		want bool
	}{
		{closed, "2024-12-31", false},
		{closed, "2025-01-01", true},
		{closed, "2025-06-30", true},
		{closed, "2025-07-01", false},
		{open, "2025-06-30", false},
		{open, "2025-07-01", true},
		{open, "9999-12-31", true},
	}
	for _, tt := range tests {
		if got := tt.u.InForce(date(t, tt.on)); got != tt.want {
			t.Errorf("%s…%s InForce(%s) = %v, want %v", tt.u.ValidFrom, tt.u.ValidTo, tt.on, got, tt.want)
		}
	}
}

func TestLevelString(t *testing.T) {
	tests := []struct {
		l    Level
		want string
	}{
		{LevelCity, "city"},
		{LevelDistrict, "district"},
		{LevelCommune, "commune"},
		{0, "Level(0)"},
		{7, "Level(7)"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("Level(%d).String() = %q, want %q", int(tt.l), got, tt.want)
		}
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		in   string
		want Key
	}{
		{"00004@2025-07-01", Key{"00004", vntime.Date{Year: 2025, Month: 7, Day: 1}}},
		{"001@2020-01-01", Key{"001", vntime.Date{Year: 2020, Month: 1, Day: 1}}},
		{"01@2020-01-01", Key{"01", vntime.Date{Year: 2020, Month: 1, Day: 1}}},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if err != nil || k != tt.want {
			t.Errorf("ParseKey(%q) = %v, %v; want %v, nil", tt.in, k, err, tt.want)
		}
		if got := tt.want.String(); got != tt.in {
			t.Errorf("%#v.String() = %q, want %q", tt.want, got, tt.in)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"", "want CODE@YYYY-MM-DD"},
		{"00004", "want CODE@YYYY-MM-DD"},
		{"00004@", "invalid date"},
		{"00004@2025-13-01", "month 13 out of range"},
		{"00004@2025-02-30", "day 30 out of range"},
		{"00004@2025-7-1", "invalid date"},
		{"abc@2025-01-01", `code "abc" is not a string of digits`},
		{"@2025-01-01", `code "" is not a string of digits`},
		{" 00004@2025-01-01", "is not a string of digits"},
		{"00004@2025-01-01@x", "invalid date"},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if err == nil {
			t.Errorf("ParseKey(%q) = %v, want error", tt.in, k)
			continue
		}
		if !strings.HasPrefix(err.Error(), "units: ") || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseKey(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
		}
		if k != (Key{}) {
			t.Errorf("ParseKey(%q) = %v with an error, want zero Key", tt.in, k)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	r := registry(t)
	on := date(t, "2025-07-01")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if u, ok := r.InForce("00004", on); !ok || u.Name != "Ba Đình" {
					t.Errorf("InForce(00004, %s) = %+v, %v", on, u, ok)
					return
				}
				r.List(Filter{AsOf: on})
				r.Predecessors(Key{"00004", on})
			}
		})
	}
	wg.Wait()
}

func BenchmarkInForce(b *testing.B) {
	r := registry(b)
	codes := []string{"00004", "00235", "001", "09871", "99999"}
	days := []vntime.Date{date(b, "2024-06-01"), date(b, "2025-03-01"), date(b, "2026-11-28")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.InForce(codes[i%len(codes)], days[i%len(days)])
		i++
	}
}

func TestUnitString(t *testing.T) {
	r := registry(t)
	u, _ := r.InForce("00004", date(t, "2025-07-01"))
	if got, want := u.String(), "Phường Ba Đình (00004@2025-07-01)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := u.Key.String(), "00004@2025-07-01"; got != want {
		t.Errorf("Key.String() = %q, want %q", got, want)
	}
}

// A case follows its commune across the 2025-07-01 reform only where the
// mapping sends the whole commune to one new one.
func TestSuccessor(t *testing.T) {
	r := registry(t)
	for _, c := range []struct {
		old  string
		want string // "" when someone must choose
	}{
		{"00004@2025-01-01", "00004@2025-07-01"}, // Trúc Bạch, wholly into Ba Đình
		{"00013@2025-01-01", "00004@2025-07-01"}, // Quán Thánh, wholly into Ba Đình
		{"00016@2025-01-01", ""},                 // Ngọc Hà, split between Ba Đình and Ngọc Hà
		{"00004@2020-01-01", ""},                 // the 2020 Trúc Bạch: no mapping covers 2025-01-01
		{"001@2020-01-01", ""},                   // Quận Ba Đình: districts have no successor
		{"00004@2025-07-01", ""},                 // in force: nothing succeeds it
	} {
		got, ok := r.Successor(key(t, c.old))
		if c.want == "" {
			if ok {
				t.Errorf("Successor(%s) = %s, want none", c.old, got)
			}
			continue
		}
		if !ok || got != key(t, c.want) {
			t.Errorf("Successor(%s) = %s, %v; want %s", c.old, got, ok, c.want)
		}
	}
}

// Above is the level a unit reports and escalates to on a date: a commune's
// district while districts exist, the city once they are abolished.
func TestAbove(t *testing.T) {
	r := registry(t)
	tests := []struct {
		unit, on, want string // want "" for none
	}{
		{"00004@2020-01-01", "2024-07-10", "001@2020-01-01"},
		{"00004@2025-01-01", "2025-06-30", "001@2020-01-01"},
		{"00004@2025-01-01", "2025-07-10", "01@2020-01-01"},
		{"00004@2025-07-01", "2026-07-10", "01@2020-01-01"},
		{"001@2020-01-01", "2024-07-20", "01@2020-01-01"},
		{"01@2020-01-01", "2026-07-10", ""},
		{"99999@2020-01-01", "2026-07-10", ""},
	}
	for _, tt := range tests {
		got, ok := r.Above(key(t, tt.unit), date(t, tt.on))
		if tt.want == "" {
			if ok {
				t.Errorf("Above(%s, %s) = %s, want none", tt.unit, tt.on, got.Key)
			}
			continue
		}
		if !ok || got.Key != key(t, tt.want) {
			t.Errorf("Above(%s, %s) = %s, %v; want %s", tt.unit, tt.on, got.Key, ok, tt.want)
		}
	}
}

// Ended finds what an old code named before a date: the last version that
// went out of force by then, not one still in force or not yet begun.
func TestEnded(t *testing.T) {
	r := registry(t)
	tests := []struct {
		code, before, want string // want "" for none
	}{
		{"00013", "2026-12-05", "00013@2025-01-01"}, // Quán Thánh, ended 2025-06-30
		{"00013", "2025-03-01", "00013@2020-01-01"}, // the 2020 version ended 2024-12-31
		{"00013", "2020-06-01", ""},
		{"00004", "2026-12-05", "00004@2025-01-01"}, // Trúc Bạch; the code is reused
		{"99999", "2026-12-05", ""},
	}
	for _, tt := range tests {
		got, ok := r.Ended(tt.code, date(t, tt.before))
		if tt.want == "" {
			if ok {
				t.Errorf("Ended(%s, %s) = %s, want none", tt.code, tt.before, got.Key)
			}
			continue
		}
		if !ok || got.Key != key(t, tt.want) {
			t.Errorf("Ended(%s, %s) = %s, %v; want %s", tt.code, tt.before, got.Key, ok, tt.want)
		}
	}
}

// A commune that kept its code and name from the 2020 set into the
// 2025-01 set is one place through both; a reused code under another
// name (00004, Trúc Bạch, then Ba Đình) is not, and neither is a commune
// the 2025-01 set does not carry on (Nguyễn Trung Trực, 00010).
func TestVersions(t *testing.T) {
	r := registry(t)
	for _, tt := range []struct {
		key  string
		want []string
	}{
		{"00004@2020-01-01", []string{"00004@2020-01-01", "00004@2025-01-01"}},
		{"00004@2025-01-01", []string{"00004@2020-01-01", "00004@2025-01-01"}},
		{"00004@2025-07-01", []string{"00004@2025-07-01"}},
		{"00013@2025-01-01", []string{"00013@2020-01-01", "00013@2025-01-01"}},
		{"00010@2020-01-01", []string{"00010@2020-01-01"}},
		{"99999@2025-07-01", []string{"99999@2025-07-01"}},
	} {
		var got []string
		for _, k := range r.Versions(key(t, tt.key)) {
			got = append(got, k.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Versions(%s) = %v, want %v", tt.key, got, tt.want)
		}
	}
}
