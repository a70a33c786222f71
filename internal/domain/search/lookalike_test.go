package search

import (
	"context"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A name pasted from a document typed in another keyboard layout, or
// typed by an input method in full width, can hold letters that look
// exactly like Latin ones and are not: a Cyrillic Н or а, a Greek Ρ or Α,
// a full-width Ｎ. Stored so, such a name was folded apart from the
// same name typed in Latin, and the second call about the child, typed
// in Latin, did not find the first case (its name indexed as "нong",
// "ρham"). They fold as the Latin letter they look like, as Đ's
// look-alikes fold to d.
func TestFoldReadsLookAlikeLettersAsTheLatinTheyShow(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// Cyrillic capital En (U+041D) for H, small a (U+0430) for a.
		{"Nguyễn Thị \u041dồng Nhung", "nguyen thi hong nhung"},
		{"Trần V\u0103n Minh", "tran van minh"},
		{"Trần V\u0430n Minh", "tran van minh"},
		// Cyrillic small o (U+043E) under a dot below, which has no
		// composed form: the mark is dropped, the o read as o.
		{"Phạm Thị Ng\u043e\u0323c Ánh", "pham thi ngoc anh"},
		// Greek capital Rho (U+03A1) and Alpha (U+0391).
		{"\u03a1hạm Văn \u0391n", "pham van an"},
		// Cyrillic capitals that look like Latin ones, a whole word.
		{"\u0422\u0410\u041c", "tam"},
		// Full-width Latin letters and digits, as an East Asian input
		// method types them.
		{"\uff2e\uff47\uff55\uff59ễ\uff4e \uff34\uff48ị \uff2c\uff41\uff4e", "nguyen thi lan"},
		{"Lê Văn Tám (\uff17 tuổi)", "le van tam 7 tuoi"},
	} {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%+q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A name written wholly in another script folds to itself whichever
	// way it is typed again: it is still found by its own spelling.
	if a, b := Fold("Иван Петров"), Fold("ИВАН ПЕТРОВ"); a == "" || a != b {
		t.Errorf("Fold of a Cyrillic name: %q and in capitals %q, want the same, not empty", a, b)
	}
}

// An index of format 4, which folded those letters apart, is made again
// at start: a case whose child's name was typed with a Cyrillic Н is
// found by the name typed in Latin once CatchUp is done.
func TestCatchUpFindsANameTypedWithLookAlikeLetters(t *testing.T) {
	ctx := context.Background()
	w := storeWithFormerEntry(t, "/4", model.Child{FullName: "Nguyễn Thị \u041dồng Nhung", BirthDate: vntime.Date{Year: 2017, Month: 5, Day: 19}, Sex: model.SexFemale})
	s, store, id := w.s, w.store, w.id
	if n, err := s.CatchUp(ctx); err != nil || n != 1 {
		t.Fatalf("CatchUp = %d, %v; want the case of format 4 indexed again", n, err)
	}
	for _, q := range []Query{{ChildName: "Nguyễn Thị Hồng Nhung"}, {ChildName: "nhung nguyen thi hong"}} {
		if got := ranked(t, s, store, q); len(got) != 1 || got[0] != id {
			t.Errorf("after CatchUp %+v found %v, want case id %d", q, got, id)
		}
	}
}

// TestFoldDoesNotMultiplyAWord: full width is read as ASCII, and nothing
// more of Unicode's compatibility forms. NFKC, which format 5 folded
// with, writes some single letters as whole phrases (ﷺ, U+FDFA, is
// four Arabic words), so a child's name of 200 such letters, which the
// API's 200-character bound lets in, was 601 syllables, not one: the
// index's features of a name grow with the square of its syllables, and
// the tokens of one report of 20 children and 10 caregivers so named
// allocated 592 MB, where 200 one-letter syllables allocate 12 MB (and
// so at every search typed so). A word of letters folds to one
// syllable, however its letters are drawn.
func TestFoldDoesNotMultiplyAWord(t *testing.T) {
	for _, word := range []string{
		strings.Repeat("\ufdfa", 200),    // ARABIC LIGATURE SALLALLAHOU ALAYHE WASALLAM
		strings.Repeat("\ufdfb", 200),    // ARABIC LIGATURE JALLAJALALOUHOU
		"\uff2e\uff48\uff55\uff4e\uff47", // full-width Nhung: one word still
	} {
		if got := Syllables(word); len(got) != 1 {
			t.Errorf("Syllables of a word of %d letters (%+q...) = %d syllables, want 1", len([]rune(word)), []rune(word)[0], len(got))
		}
	}
}
