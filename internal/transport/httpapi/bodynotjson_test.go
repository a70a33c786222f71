package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestBodyThatIsNoJSONSaysWhatItTakesWhateverTheDecoderSpaces: protojson
// writes "proto:" then a space or a no-break space (U+00A0), chosen by a
// hash of the binary, so that no one matches its words. The refusal of a
// body that is no JSON (a form, XML) began with what the body takes only
// in a binary that drew the space: bodyNotJSON's \s takes no U+00A0, and a
// build with -race, or the next release, told a newcomer the decoder's
// bare "proto: syntax error (line 1:1): invalid value" again. Both
// spellings are given here, whatever this binary draws.
func TestBodyThatIsNoJSONSaysWhatItTakesWhateverTheDecoderSpaces(t *testing.T) {
	ctx, err := runtime.AnnotateIncomingContext(t.Context(), runtime.NewServeMux(), httptest.NewRequest("POST", "/v1/reports", nil),
		"/childcase.v1.ReportService/CreateReport", runtime.WithHTTPPathPattern("/v1/reports"))
	if err != nil {
		t.Fatal(err)
	}
	for _, space := range []string{" ", "\u00a0"} {
		refusal := status.Error(codes.InvalidArgument, bodyRefusalPrefix+"proto:"+space+"syntax error (line 1:1): invalid value channel=CHANNEL_HOTLINE_111")
		var got []string
		for _, d := range status.Convert(bodyFieldNamed(ctx, refusal)).Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					got = append(got, v.GetField()+": "+v.GetDescription())
				}
			}
		}
		want := `body: takes a JSON object {"channel", "receive_time", `
		if len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Errorf("proto:%q then the decoder's words: violations %q, want one beginning %q", space, got, want)
		}
		if len(got) == 1 && strings.Contains(got[0], "CHANNEL_HOTLINE_111") {
			t.Errorf("proto:%q: the refusal quotes the value sent: %q", space, got[0])
		}
	}
}
