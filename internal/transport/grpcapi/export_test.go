package grpcapi

import (
	"testing"

	"github.com/childcase/childcase/internal/transport/reportfile"
)

// TestNeutraliseFormulas: every cell a spreadsheet would take for a
// formula (or a DDE call) starts with an apostrophe; other cells are kept.
func TestNeutraliseFormulas(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"HN-2026-00001", "HN-2026-00001"},
		{"units/00004@2025-07-01", "units/00004@2025-07-01"},
		{"a=b", "a=b"},
		{"", ""},
	} {
		if got := reportfile.SafeText(tt.in); got != tt.want {
			t.Errorf("SafeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := xlsxCell(tt.in); got != tt.want {
			t.Errorf("xlsxCell(%q) = %v, want %q", tt.in, got, tt.want)
		}
	}
}
