package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

func TestCutLongArrays(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":[1,2,3]}`, `{"a":[1,2,3]}`},
		{`{"a":[1,2,3,4,5]}`, `{"a":[1,2,3]}`},
		{`{"a":[{"b":[1,2,3,4]},{},{},{"c":"],,,["}],"d":[ 1 , 2 , 3 , 4 ]}`, `{"a":[{"b":[1,2,3]},{},{}],"d":[ 1 , 2 , 3 ]}`},
		{`{"s":"[1,2,3,4]","e":"\"[,,,,"}`, `{"s":"[1,2,3,4]","e":"\"[,,,,"}`},
		{`[[1,2,3,4],[5],[6],[7,8,9,10]]`, `[[1,2,3],[5],[6]]`},
		{`{"a":[]}`, `{"a":[]}`},
	}
	for _, tt := range tests {
		got := string(cutLongArrays([]byte(tt.in), 3))
		if got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: %s is not JSON", tt.in, got)
		}
	}
}

// A REST body holding a list far over its limit (a megabyte of empty
// children) is decoded with only one item more than the largest limit of
// the schema, so the validator refuses the list by its rule and the rest
// is never decoded.
func TestRESTDecoderCutsLongLists(t *testing.T) {
	m := newJSONMarshaler()
	body := `{"children":[` + strings.Repeat(`{},`, 349_000) + `{}], "suspected_abuse": [` + strings.Repeat(`"ABUSE_FORM_NEGLECT",`, 2_000) + `"ABUSE_FORM_NEGLECT"]}`
	var report pb.Report
	if err := m.NewDecoder(strings.NewReader(body)).Decode(&report); err != nil {
		t.Fatal(err)
	}
	keep := int(m.keepItems)
	if keep <= 20 || len(report.GetChildren()) != keep || len(report.GetSuspectedAbuse()) != keep {
		t.Errorf("decoded %d children and %d abuse forms, want %d of each", len(report.GetChildren()), len(report.GetSuspectedAbuse()), keep)
	}
}
