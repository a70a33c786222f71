package search

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold returns s as the index compares it: Unicode NFC, then lower case
// without diacritics (đ becomes d, which no decomposition does, and so do
// its look-alikes ð and ɖ, which legacy Vietnamese encodings and fonts
// put in its place), with every run of characters that are neither
// letters nor digits made one space.
// "Nguyễn  Thị-Hồng" and "nguyen thi hong" fold alike, so a name typed on a
// keyboard without Vietnamese input still finds the child.
func Fold(s string) string {
	var b strings.Builder
	space := false
	// NFC first, as everywhere else in the service; NFD then splits each
	// letter from its marks so the marks can be dropped.
	for _, r := range norm.NFD.String(norm.NFC.String(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case strings.ContainsRune(dLikes, r):
			r = 'd'
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

// Syllables returns the folded syllables of a name, in the order written.
func Syllables(name string) []string { return strings.Fields(Fold(name)) }

// Phone returns a Vietnamese phone number in E.164 ("0912 345 678",
// "84912345678", "+84 912 345 678" and "+84 (0) 912 345 678" all give
// "+84912345678"), or "" when s holds too few digits to be one. Separators
// and a leading 00 are ignored, and so is a trunk 0 after the code 84; a
// number of another country keeps its own code.
func Phone(s string) string {
	var d strings.Builder
	plus := false
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		}
	}
	digits := d.String()
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
