package httpapi

import (
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// BenchmarkRESTBodies measures the gateway's reading of a request body
// (the JSON decoder, cutting long arrays) for the worst bodies within the
// 1 MiB limit, against a valid report in the same run. What it passes on
// holds at most LargestListLimit()+1 items per list, whose checks
// BenchmarkRequestChecks in package grpcapi measures. Run with
//
//	go test -run '^$' -bench RESTBodies -benchtime 20x -count 6 ./internal/transport/httpapi/
func BenchmarkRESTBodies(b *testing.B) {
	const limit = MaxBodyBytes - 256
	valid := `{"channel": "CHANNEL_HOTLINE_111", "receive_time": "2026-11-28T02:00:00Z",
		"incident_commune_code": "00004", "call_type": "CALL_TYPE_INTERVENTION",
		"children": [{"estimated_age_years": 7, "sex": "SEX_MALE", "condition": "bỏ đói"}],
		"suspected_abuse": ["ABUSE_FORM_NEGLECT"], "reporter": {"anonymous": true}}`
	bodies := []struct{ name, body string }{
		{"floor/valid_report", valid},
		{"350k_empty_children", `{"children": [` + strings.Repeat(`{},`, limit/3) + `{}]}`},
		{"520k_abuse_forms", `{"suspected_abuse": [` + strings.Repeat(`1,`, limit/2) + `1]}`},
		{"1MiB_narrative", `{"narrative": "` + strings.Repeat("ả", limit/3) + `"}`},
	}
	m := newJSONMarshaler()
	// The floor of the bytes: protojson alone reading the 1 MiB narrative.
	b.Run("floor/protojson_1MiB_narrative", func(b *testing.B) {
		raw := []byte(bodies[3].body)
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if err := m.UnmarshalOptions.Unmarshal(raw, &pb.Report{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tt := range bodies {
		if len(tt.body) > MaxBodyBytes {
			b.Fatalf("%s: %d bytes, over the limit", tt.name, len(tt.body))
		}
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(tt.body)))
			for b.Loop() {
				var r pb.Report
				if err := m.NewDecoder(strings.NewReader(tt.body)).Decode(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
