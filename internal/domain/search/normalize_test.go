package search

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
)

func TestFold(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Nguyễn Thị Hồng Nhung", "nguyen thi hong nhung"},
		{"NGUYỄN  thị-HỒNG\tnhung ", "nguyen thi hong nhung"},
		{"Đặng Đình Đức", "dang dinh duc"},
		// Ð (U+00D0, Latin capital eth), which looks the same as Đ and
		// some keyboards type for it, and its small ð, fold alike.
		{"Ðặng Ðình Ðức", "dang dinh duc"},
		{"ðặng ðình ðức", "dang dinh duc"},
		// The same name in NFD (as some keyboards send it) folds alike.
		{"Nguye\u0302\u0303n", "nguyen"},
		{"Lê Văn Tám (7 tuổi)", "le van tam 7 tuoi"},
		// Đ's look-alikes, which legacy Vietnamese encodings and fonts
		// put in its place: the Icelandic eth and the African D.
		{"Trần \u00d0ức Minh", "tran duc minh"},
		{"\u00f0ặng", "dang"},
		{"\u0189inh \u0256ức", "dinh duc"},
		{"  ", ""},
	} {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A name pasted from a web page or a chat can carry characters nobody
// sees (a zero-width space, a soft hyphen, a byte order mark, a word
// joiner, a left-to-right mark): the name reads as typed, so it folds as
// typed. Folded as a break, "Tr\u200bương Thị Lan" was "tr uong thi lan",
// and a search for the child, "truong thi lan", missed her case.
func TestFoldIgnoresInvisibleCharacters(t *testing.T) {
	for _, in := range []string{
		"Tr\u200bương Thị Lan",
		"Trương\u00ad Thị Lan",
		"\ufeffTrương Thị Lan",
		"Trư\u2060ơng Thị \u200eLan",
		"Trương \u200fThị\u061c Lan",
	} {
		if got := Fold(in); got != "truong thi lan" {
			t.Errorf("Fold(%+q) = %q, want %q", in, got, "truong thi lan")
		}
	}
}

func TestPhone(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0912 345 678", "+84912345678"},
		{"0912.345.678", "+84912345678"},
		{"+84 912 345 678", "+84912345678"},
		{"84912345678", "+84912345678"},
		{"0084912345678", "+84912345678"},
		{"(024) 3942 1234", "+842439421234"},
		{"912345678", "+84912345678"},
		{"+1 415 555 0100", "+14155550100"},
		// The trunk 0 written after the country code, as Vietnamese
		// numbers often are, is not part of the E.164 number.
		{"+84 (0) 987 111 222", "+84987111222"},
		{"+84 0987 111 222", "+84987111222"},
		{"0084 (0)987 111 222", "+84987111222"},
		{"840987111222", "+84987111222"},
		{"(+84) 987-111-222", "+84987111222"},
		{"111", ""},
		{"", ""},
	} {
		if got := Phone(tt.in); got != tt.want {
			t.Errorf("Phone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNameFeatures(t *testing.T) {
	k := nameKinds{"n", "s", "p"}
	got := nameFeatures(Syllables("Nguyễn Thị Hồng Nhung"), k)
	want := []feature{
		{"n", "nguyen thi hong nhung"},
		{"n", "nhung nguyen thi hong"}, // reversed: given name first
		{"s", "nguyen nhung"},          // without the middle names
		{"p", "hong nhung thi"},        // without nguyen
		{"p", "hong nguyen nhung"},     // without thi
		{"p", "nguyen nhung thi"},      // without hong
		{"p", "hong nguyen thi"},       // without nhung
	}
	if !slices.Equal(got, want) {
		t.Errorf("nameFeatures =\n%v\nwant\n%v", got, want)
	}
	if got := nameFeatures(nil, k); got != nil {
		t.Errorf("nameFeatures of no name = %v, want none", got)
	}
}

// The tie-breakers together cannot make a candidate: rank finds the cases
// by the other fields and only looks the tie-breakers up for those, which
// is the same ranking only while this holds.
func TestTieBreakersCannotQualify(t *testing.T) {
	if total := weightBirthYear + weightCommune; total >= MinScore {
		t.Fatalf("a birth year and a commune weigh %v together, MinScore is %v: rank would miss cases they alone qualify", float64(total), float64(MinScore))
	}
	for _, f := range scoreFields {
		if tieBreaker(f) && f != FieldBirthYear && f != FieldCommune {
			t.Errorf("%s is a tie-breaker the weight check above does not cover", f)
		}
	}
}

// Intake records a phone as an operator types what the caller says, in
// any unambiguous Vietnamese spelling, and refuses what is no phone
// number. Full-width digits (a Vietnamese input method's) and
// non-breaking spaces are the ASCII ones; the index and a search read
// the number alike (Phone).
func TestPhoneNumber(t *testing.T) {
	for _, in := range []string{
		"0912 345 678", "0912.345.678", "0912-345-678", "+84 912 345 678", "(+84) 912345678",
		"84912345678", "+84 (0) 912 345 678", "０９１２３４５６７８", "０９１２ ３４５ ６７８",
		"＋８４ ９１２ ３４５ ６７８", "0912\u00a0345\u00a0678", "0912\u202f345\u202f678", "0912–345–678",
		"0084 912 345 678", "912 345 678", "+84912345678", "(０９１２) ３４５．６７８",
	} {
		if got, ok := PhoneNumber(in); !ok || got != "+84912345678" {
			t.Errorf("PhoneNumber(%q) = %q, %v; want +84912345678", in, got, ok)
		}
		if got := Phone(in); got != "+84912345678" {
			t.Errorf("Phone(%q) = %q; want +84912345678 (intake and search read it alike)", in, got)
		}
	}
	for in, want := range map[string]string{
		"024 3825 0000":     "+842438250000", // a Hanoi landline
		"(024) 3942 1234":   "+842439421234",
		"+1 415 555 0100":   "+14155550100",
		"(+1) 415 555 0100": "+14155550100",
	} {
		if got, ok := PhoneNumber(in); !ok || got != want {
			t.Errorf("PhoneNumber(%q) = %q, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"", "111", "0912", "call me", "0912 345 678 (mẹ)", "0912abc678", "091 234 56",
		"0912 345 678 9012", "+84 12", "0912 345+678", "++84 912 345 678", "0912\x00345678",
		"09 12 34 56 78 90 12 34", "+84 2438 2500 001",
		// A mobile with a digit too many, a landline with one too few:
		// 10 digits after the trunk 0 are a landline's, which begin with 2.
		"0912 345 6789", "+84 912 345 6789", "024 3825 000", "+84 24 3825 000",
		// No country code begins with 0: a + or 00 before a trunk 0 is
		// no number ("+0912345678" would be stored, no search typing
		// 0912 345 678 would find it).
		"+0912 345 678", "+0 912 345 678", "00 0912 345 678", "+084 912 345 678", "+0084 912 345 678",
	} {
		if got, ok := PhoneNumber(in); ok {
			t.Errorf("PhoneNumber(%q) = %q, true; want it refused", in, got)
		}
	}
}

// A tokenizer reuses one HMAC for every token: each token is still the
// first TokenSize bytes of a fresh HMAC-SHA256 of kind 0x00 value, and
// keeps its bytes when more are made.
func TestATokenizerMakesEachTokenAsAFreshHMAC(t *testing.T) {
	key := []byte("an index key of thirty-two bytes")
	tk := newTokenizer(key)
	var made [][]byte
	var want [][]byte
	for i := range 200 {
		f := feature{kindChildName, fmt.Sprintf("nguyen thi lan %d", i)}
		if i%3 == 0 {
			f = feature{kindPhone, fmt.Sprintf("+8491%07d", i)}
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(f.kind + "\x00" + f.value))
		want = append(want, mac.Sum(nil)[:TokenSize])
		made = append(made, tk.token(f))
	}
	for i := range made {
		if !bytes.Equal(made[i], want[i]) {
			t.Fatalf("token %d: %x, want %x", i, made[i], want[i])
		}
	}
}
