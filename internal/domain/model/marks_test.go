package model_test

import (
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
)

// TestStacksMarksCountsARunOnOneCharacter: more than four combining marks
// on one character stack; a drawn character (a letter, a space) ends the
// run, a character that draws nothing (a zero-width space, a soft hyphen)
// does not, and decomposed Vietnamese, two marks a letter, never stacks.
func TestStacksMarksCountsARunOnOneCharacter(t *testing.T) {
	const four = "\u0301\u0302\u0303\u0304"
	for _, tt := range []struct {
		name string
		s    string
		want bool
	}{
		{"four marks on a letter", "a" + four, false},
		{"five marks on a letter", "a" + four + "\u0323", true},
		{"an enclosing mark the fifth", "a" + four + "\u20dd", true},
		{"four marks on each of two letters", "a" + four + "b" + four, false},
		{"four marks on each side of a space", "a" + four + " " + four, false},
		{"four and one parted by a zero-width space", "a" + four + "\u200b\u0323", true},
		{"four and one parted by a soft hyphen", "a" + four + "\u00ad\u0323", true},
		{"a zero-width space after four marks, then a letter", "a" + four + "\u200bb\u0323", false},
		{"invisible characters and no mark", strings.Repeat("\u200b\u00ad\u2060", 10), false},
		{"Vietnamese decomposed", "Tra\u0302\u0300n Thi\u0323 A\u0306\u0323", false},
	} {
		if got := model.StacksMarks(tt.s); got != tt.want {
			t.Errorf("%s: StacksMarks(%+q) = %v, want %v", tt.name, tt.s, got, tt.want)
		}
	}
}
