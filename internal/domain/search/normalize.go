package search

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Fold returns s as the index compares it: Unicode NFC with letters and
// digits typed in full width read as their ASCII, then lower case without
// diacritics (đ becomes d, which no decomposition does, and so do its
// look-alikes ð and ɖ, which legacy Vietnamese encodings and fonts put
// in its place; the Cyrillic and Greek letters drawn as a Latin one, a
// Н, an а, a Ρ, become that letter), with every run of characters that
// are neither letters nor digits made one space.
// "Nguyễn  Thị-Hồng" and "nguyen thi hong" fold alike, so a name typed on a
// keyboard without Vietnamese input still finds the child.
func Fold(s string) string {
	var b strings.Builder
	space := false
	// NFC first, as everywhere else in the service, and full-width forms
	// read as their ASCII; NFD then splits each letter from its marks so
	// the marks can be dropped. Width only, not NFKC: NFKC also writes
	// some single letters as whole phrases (ﷺ is four words), so a name
	// within the API's bound of characters had six times the syllables,
	// and the index's features of a name grow with their square.
	for _, r := range norm.NFD.String(width.Fold.String(norm.NFC.String(s))) {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Cf, r):
			continue
		case strings.ContainsRune(dLikes, r):
			r = 'd'
		default:
			// Looked up in lower case, so a name folds alike in capitals.
			r = latinOf(r)
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		space = true
	}
	return b.String()
}

// dLikes are Đ and the letters written for it: the Icelandic eth (Ð,
// U+00D0, as some converters and fonts give it) and the African D (Ɖ,
// U+0189), each in both cases. None decomposes to d.
const dLikes = "đĐðÐɖƉ"

// latinLookAlikes are the Cyrillic and Greek letters drawn as a Latin
// letter, in lower case, each with the Latin letter it shows (in either
// case: a Cyrillic Н and its small н are h, since a name typed in
// capitals must fold as typed in small letters). A name pasted from a
// text typed in another keyboard layout, or by a hand that took the
// wrong key, reads as Latin and must be found by the name typed in
// Latin. A name wholly in Cyrillic or Greek folds alike however it is
// typed again, and is found by its own spelling. Each is written
// beside its Latin letter.
const latinLookAlikes = "" +
	"аaвbеeкkмmнhоoрpсcтtхxуyіiјjѕsһhԁd" + // Cyrillic
	"αaβbεeζzηhιiκkμmνnοoρpτtυyχx" // Greek

// latinOf returns the Latin letter that r, a Cyrillic or Greek letter in
// either case, is drawn as (latinLookAlikes), or r itself.
func latinOf(r rune) rune {
	if r < 'Ͱ' { // below Greek: Latin, digits, punctuation
		return r
	}
	lower := unicode.ToLower(r)
	match, first := false, true
	for _, c := range latinLookAlikes {
		if !first && match {
			return c
		}
		match = first && c == lower
		first = !first
	}
	return r
}

// Syllables returns the folded syllables of a name, in the order written.
func Syllables(name string) []string { return strings.Fields(Fold(name)) }

// Phone returns a Vietnamese phone number in E.164 ("0912 345 678",
// "84912345678", "+84 912 345 678" and "+84 (0) 912 345 678" all give
// "+84912345678"), or "" when s holds too few digits to be one. Separators
// and a leading 00 are ignored, and so is a trunk 0 after the code 84; a
// number of another country keeps its own code. Full-width digits and
// signs, which Vietnamese input methods type, count as their ASCII
// (NFKC): "０９１２３４５６７８" is the same number. It is the one place
// phone numbers are normalised: the index, a search and intake
// (PhoneNumber) read a number alike.
func Phone(s string) string {
	digits, plus := phoneDigits(s)
	return e164(digits, plus)
}

// PhoneNumber is Phone for a number recorded at intake, which must be
// written as one: digits, with a + before the first if any, and between
// them only spaces (non-breaking ones too), dots, dashes, slashes and
// parentheses, in ASCII or full width. A Vietnamese number (+84) needs
// the 9 digits of a mobile or the 10 of a landline (beginning with 2)
// after its code, and
// another country's 10 to 15 digits in all. ok is false for anything else:
// a word, a note beside the number, a number short of digits, a + or 00
// before a 0 (no country code begins with one).
func PhoneNumber(s string) (e164Number string, ok bool) {
	folded := norm.NFKC.String(s)
	for _, r := range folded {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune(phoneSeparators, r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Pd, r) {
			return "", false
		}
	}
	if i := strings.IndexRune(folded, '+'); i >= 0 && (strings.Count(folded, "+") > 1 || strings.IndexAny(folded, "0123456789") < i) {
		return "", false // a + after a digit: no number is written so
	}
	n := Phone(folded)
	if national, ok := strings.CutPrefix(n, "+84"); ok && !vietnameseNational(national) {
		return "", false
	}
	if strings.HasPrefix(n, "+0") {
		// No country code begins with 0: "+0912 345 678" or "+084 ..."
		// would be stored as no E.164 number, which no search typing the
		// number as dialled at home (+84912345678) finds.
		return "", false
	}
	return n, n != ""
}

// vietnameseNational reports whether n, the digits after +84, can be a
// Vietnamese number: a mobile's 9 digits, or a landline's 10, which begin
// with 2 (the area codes 02x since 2017), as no mobile's do. So a mobile
// typed with a digit too many ("0912 345 6789") or a landline with one
// too few ("024 3825 000") is refused at intake rather than stored as a
// number no search for the right one finds.
func vietnameseNational(n string) bool {
	switch len(n) {
	case 9:
		return n[0] != '2'
	case 10:
		return n[0] == '2'
	}
	return false
}

// phoneSeparators are the signs written between a number's digits, besides
// spaces and dashes; + only before them (PhoneNumber).
const phoneSeparators = "+.()/"

// phoneDigits returns the digits of s, folded to ASCII, and whether a +
// stood before the first of them.
func phoneDigits(s string) (string, bool) {
	var d strings.Builder
	plus := false
	for _, r := range norm.NFKC.String(s) {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case r == '+' && d.Len() == 0:
			plus = true
		}
	}
	return d.String(), plus
}

// e164 is the E.164 form of a number's digits, plus saying whether a +
// stood before them; "" when they are too few or too many to be one.
func e164(digits string, plus bool) string {
	international := true
	switch {
	case plus:
	case strings.HasPrefix(digits, "00"):
		digits = digits[2:]
	case strings.HasPrefix(digits, "0"):
		digits, international = "84"+digits[1:], false
	case strings.HasPrefix(digits, "84") && len(digits) >= 11:
	default:
		// A subscriber number without its trunk prefix: Vietnamese.
		digits, international = "84"+digits, false
	}
	if rest, ok := strings.CutPrefix(digits, "840"); ok && international {
		// "+84 (0) 912 ...": the trunk 0 written after the country code.
		// No Vietnamese number starts with 0 after it, so it is only
		// the habit of writing the number as dialled at home.
		digits = "84" + rest
	}
	if len(digits) < 10 || len(digits) > 15 {
		return ""
	}
	return "+" + digits
}
