package app_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// An etag names its case as well as its revision: case A's etag sent
// with a step on case B, at the same revision, is ABORTED with
// ETAG_MISMATCH like a stale one, and changes nothing. Etags were the
// revision alone ("1"), so a client that mixed up two cases' forms (or
// a case merged into another, whose old number answers with the
// survivor) wrote to the wrong case with the other's etag. An etag of
// the former form, the revision alone, is refused as stale.
func TestEtagOfAnotherCaseIsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	a := openCase(t, ts, testNow, "00004")
	b := openCase(t, ts, testNow, "00004")
	aEtag, bEtag := etagOf(t, ts, "bd.worker", a), etagOf(t, ts, "bd.worker", b)
	if aEtag == bEtag {
		t.Errorf("two cases at the same revision have the same etag %q", aEtag)
	}
	bd := ts.as(t, "bd.worker")
	before := getCase(t, ts, "bd.worker", b)
	// The former form: the revision alone, as B's etag was before.
	revisionAlone, _, _ := strings.Cut(bEtag, ".")
	for _, sent := range []string{aEtag, revisionAlone} {
		_, err := ts.process().AddCaseNote(bd, &pb.AddCaseNoteRequest{Name: b, Etag: sent, Text: "ghi chú nhầm hồ sơ"})
		if st := wantCode(t, err, codes.Aborted); errorReason(st) != "ETAG_MISMATCH" {
			t.Errorf("case %s with the etag %q: reason %q, want ETAG_MISMATCH", b, sent, errorReason(st))
		}
	}
	if after := getCase(t, ts, "bd.worker", b); after.GetEtag() != before.GetEtag() {
		t.Errorf("the refused steps changed case %s: etag %q -> %q", b, before.GetEtag(), after.GetEtag())
	}
	// Its own etag goes through, and the next one still names it.
	noted, err := ts.process().AddCaseNote(bd, &pb.AddCaseNoteRequest{Name: b, Etag: bEtag, Text: "ghi chú đúng hồ sơ"})
	if err != nil {
		t.Fatalf("case %s with its own etag %q: %v", b, bEtag, err)
	}
	if noted.GetEtag() == bEtag || noted.GetEtag() == aEtag {
		t.Errorf("after the note case %s has the etag %q (it was %q; case %s's is %q)", b, noted.GetEtag(), bEtag, a, aEtag)
	}
	// Over REST too: A's etag on B.
	code, raw := restRaw(t, ts, "POST", "/v1/"+a+":addNote", `{"etag": "`+noted.GetEtag()+`", "text": "ghi chú"}`, map[string]string{
		"Authorization": "Bearer " + ts.tokens.get("bd.worker"), "Content-Type": "application/json",
	})
	if code != http.StatusConflict || !strings.Contains(string(raw), `"reason":"ETAG_MISMATCH"`) {
		t.Errorf("REST: case %s with case %s's etag: %d %s, want 409 ETAG_MISMATCH", a, b, code, raw)
	}
}
