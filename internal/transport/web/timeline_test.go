package web

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// domainSources are the domain's Go sources (tests left out), read as
// text: the catalog tests below find in them what the console must say.
func domainSources(t *testing.T) string {
	t.Helper()
	return sourcesOf(t, filepath.Join("..", "..", "domain"))
}

// sourcesOf is the Go source of the files under dir, tests left out.
func sourcesOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		b.Write(src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	// s.event("KIND", detail, ...), a.event(...), s.offer(to, reason, "KIND")
	eventCall = regexp.MustCompile(`\.event\("([A-Z_]+)",\s*([^,]+),`)
	offerCall = regexp.MustCompile(`\.offer\([^)]*"([A-Z_]+)"\)`)
	// model.CaseEvent{... Kind: "KIND", Detail: ...}
	eventLiteral = regexp.MustCompile(`Kind:\s*"([A-Z_]+)",\s*Detail:`)
	precondition = regexp.MustCompile(`model\.Precondition\("([A-Z_]+)"`)
	// model.InvalidField(field, "rule", ...), the field perhaps a call
	invalidField = regexp.MustCompile(`InvalidField\(\s*(?:[^,()]|\([^()]*\))+,\s*"([a-z_.0-9]+)"`)
	// errdetails.BadRequest_FieldViolation{... Reason: "rule"}, and
	// fieldViolation(field, description, "rule")
	violationReason = regexp.MustCompile(`Reason:\s*"([a-z_]+\.[a-z_.0-9]+)"`)
	violationCall   = regexp.MustCompile(`fieldViolation\([^\n]*,\s*"([a-z_]+\.[a-z_.0-9]+)"\)`)
	formatLiterals  = regexp.MustCompile(`%[sdv]`)
)

// TestEventDetailsHaveCatalogTexts: every event kind the domain gives a
// generated detail is said in the catalogs (from its deadline, or by a
// detail form whose fixed words are the domain's), or is listed as one
// whose detail a person typed.
func TestEventDetailsHaveCatalogTexts(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	vi := cats["vi"]
	src := domainSources(t)
	kinds := map[string]bool{}
	for _, m := range eventCall.FindAllStringSubmatch(src, -1) {
		if m[2] != `""` {
			kinds[m[1]] = true
		}
	}
	for _, m := range offerCall.FindAllStringSubmatch(src, -1) {
		kinds[m[1]] = true
	}
	for _, m := range eventLiteral.FindAllStringSubmatch(src, -1) {
		kinds[m[1]] = true
	}
	if len(kinds) < 30 {
		t.Fatalf("found only %d event kinds with a detail in the domain's sources: has the way events are made changed?", len(kinds))
	}
	for kind := range kinds {
		switch {
		case slices.Contains(typedDetails, kind):
		case slices.Contains(deadlineDetails, kind):
		case slices.ContainsFunc(detailForms, func(f detailForm) bool { return f.kind == kind }):
		default:
			t.Errorf("event %s has a generated detail that no catalog text says", kind)
		}
	}
	for _, kind := range deadlineDetails {
		if _, ok := vi["event.detail."+kind]; !ok {
			t.Errorf("no catalog text for %q", "event.detail."+kind)
		}
	}
	for _, f := range detailForms {
		if _, ok := vi[f.key]; !ok {
			t.Errorf("no catalog text for %q", f.key)
		}
		format := f.format
		for _, w := range f.words {
			if !strings.Contains(src, `"`+w+`"`) {
				t.Errorf("%s: the domain no longer writes %q (detail form %q)", f.kind, w, f.format)
			}
			format = strings.Replace(format, w, "%s", 1)
		}
		for _, part := range formatLiterals.Split(format, -1) {
			if !strings.Contains(src, part) {
				t.Errorf("%s: the domain no longer writes %q (detail form %q)", f.kind, part, f.format)
			}
		}
	}
}

// TestPreconditionReasonsHaveCatalogTexts: every reason the domain gives
// for refusing a step now has its catalog text.
func TestPreconditionReasonsHaveCatalogTexts(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	reasons := precondition.FindAllStringSubmatch(domainSources(t), -1)
	if len(reasons) < 30 {
		t.Fatalf("found only %d preconditions in the domain's sources", len(reasons))
	}
	for _, m := range reasons {
		if _, ok := cats["vi"]["refusal."+m[1]]; !ok {
			t.Errorf("no catalog text for %q", "refusal."+m[1])
		}
	}
}

// Every rule id the service names a refused field by, in the domain
// (model.InvalidField) and in the API's own checks (grpcapi: page tokens,
// unreadable input), has a text in every catalog: a refusal the catalogs
// do not name shows in the API's English on a Vietnamese page ("\"system\"
// is the service's own name ...", "a COMMUNE_WORKER belongs to a
// commune ..."), as the console's admin, dashboard and step forms showed.
func TestFieldRulesOfTheServiceHaveCatalogTexts(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	src := domainSources(t) + sourcesOf(t, filepath.Join("..", "grpcapi"))
	ids := map[string]bool{}
	for _, re := range []*regexp.Regexp{invalidField, violationReason, violationCall} {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			ids[m[1]] = true
		}
	}
	if len(ids) < 60 {
		t.Fatalf("found only %d field rules in the service's sources", len(ids))
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		for _, lang := range languages {
			if _, ok := cats[lang]["rule."+id]; !ok {
				t.Errorf("%s has no text for the field rule %q (rule.%s)", lang, id, id)
			}
		}
	}
}

// A transfer declined by the level it escalated to, for the receiving
// unit that left it unanswered, says both units, not the domain's English.
func TestTransferDeclinedForAnotherUnitIsSaid(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{catalogs: cats}
	names := map[string]string{"units/01@2020-01-01": "Thành phố Hà Nội", "units/00091@2025-07-01": "Phường Hoàn Kiếm"}
	for _, tt := range []struct{ detail, want string }{
		{"units/01@2020-01-01 declined for units/00091@2025-07-01, which left it unanswered", "Thành phố Hà Nội đã từ chối thay Phường Hoàn Kiếm, đơn vị không trả lời trong hạn"},
		{"units/00091@2025-07-01 declined", "Phường Hoàn Kiếm đã từ chối"},
	} {
		e := &pb.CaseEvent{Kind: "TRANSFER_DECLINED", Detail: tt.detail}
		if got := c.eventDetail("vi", e, nil, func(n string) string { return names[n] }); got != tt.want {
			t.Errorf("detail %q says %q, want %q", tt.detail, got, tt.want)
		}
	}
}

// A timeline entry whose detail is an outcome code the API documents (a
// review's, the police's, a court's, a separation's end) says it in the
// page's language, as the case's sections say the same codes.
func TestTimelineOutcomeCodesInThePagesLanguage(t *testing.T) {
	c := testConsole(t)
	for kind, code := range map[string]string{
		"REVIEW_RECORDED":         "PROPOSE_CLOSURE",
		"POLICE_OUTCOME":          "PROSECUTED",
		"COURT_DECISION_RECORDED": "RETURNED_HOME",
		"SEPARATION_ENDED":        "ALTERNATIVE_CARE",
	} {
		for _, lang := range languages {
			got := c.eventDetail(lang, &pb.CaseEvent{Kind: kind, Detail: code}, nil, func(s string) string { return s })
			if want := c.catalogs.text(lang, "code."+code); got != want {
				t.Errorf("%s: %s %s reads %q, want %q", lang, kind, code, got, want)
			}
		}
	}
	// A note's words are shown as typed, even one that spells a code.
	if got := c.eventDetail("vi", &pb.CaseEvent{Kind: "NOTE_ADDED", Detail: "DRAFT"}, nil, func(s string) string { return s }); got != "DRAFT" {
		t.Errorf("a note reading DRAFT shows as %q", got)
	}
}

// The API's own refusals that the console says by their reason (those
// it answers FAILED_PRECONDITION, ABORTED, ALREADY_EXISTS or
// RESOURCE_EXHAUSTED with an ErrorInfo reason, in grpcapi) have a text in
// every catalog too, or a step refused for one (a write too large for an
// etcd store's commit) is said in the API's English.
func TestAPIRefusalReasonsHaveCatalogTexts(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	src := sourcesOf(t, filepath.Join("..", "grpcapi")) + domainSources(t)
	values := map[string]string{}
	for _, m := range reasonConst.FindAllStringSubmatch(src, -1) {
		values[m[1]] = m[2]
	}
	found := 0
	for _, m := range refusalInfo.FindAllStringSubmatch(src, -1) {
		reason, ok := values[m[1]]
		if !ok {
			t.Errorf("no value found for %s", m[1])
			continue
		}
		found++
		for _, lang := range languages {
			if _, ok := cats[lang]["refusal."+reason]; !ok {
				t.Errorf("%s has no text for the API's refusal %s (refusal.%s)", lang, reason, reason)
			}
		}
	}
	if found < 5 {
		t.Fatalf("found only %d refusals in grpcapi's sources", found)
	}
}

var (
	// ReasonX = "X_Y"
	reasonConst = regexp.MustCompile(`(Reason\w+)\s*=\s*"([A-Z_]+)"`)
	// withInfo(codes.FailedPrecondition, "...", ReasonX, ...), up to the
	// reason (no other withInfo call between)
	refusalInfo = regexp.MustCompile(`withInfo\(codes\.(?:FailedPrecondition|Aborted|AlreadyExists|ResourceExhausted),(?:[^w]|w[^i]|wi[^t])*?(Reason\w+)`)
)

// TestEveryTimelineKindIsNamedInTheCatalogs: every kind of event the
// domain writes on a case's timeline has its own name in every catalog.
// A kind without one showed as the API's code: a city's reassignment of
// a case read "REASSIGNMENT_PROPOSED" on a Vietnamese page.
func TestEveryTimelineKindIsNamedInTheCatalogs(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	src := domainSources(t)
	kinds := map[string]bool{}
	for _, re := range []*regexp.Regexp{eventKindCall, offerCall, eventLiteral} {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			kinds[m[1]] = true
		}
	}
	if len(kinds) < 40 {
		t.Fatalf("found only %d event kinds in the domain's sources: has the way events are made changed?", len(kinds))
	}
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		for _, lang := range languages {
			if _, ok := cats[lang]["event."+kind]; !ok {
				t.Errorf("%s has no name for the timeline's %s (event.%s)", lang, kind, kind)
			}
		}
	}
}

// eventKindCall is s.event("KIND", ...) whatever its detail, an empty one
// included.
var eventKindCall = regexp.MustCompile(`\.event\("([A-Z_]+)",`)
