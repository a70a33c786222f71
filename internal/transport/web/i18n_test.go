package web

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/stats"
)

// TestCatalogsHaveTheSameKeys: every text exists in every language.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	vi := slices.Sorted(maps.Keys(cats["vi"]))
	for _, lang := range languages[1:] {
		if got := slices.Sorted(maps.Keys(cats[lang])); !slices.Equal(got, vi) {
			for _, k := range vi {
				if _, ok := cats[lang][k]; !ok {
					t.Errorf("%s lacks %q", lang, k)
				}
			}
			for _, k := range got {
				if _, ok := cats["vi"][k]; !ok {
					t.Errorf("vi lacks %q", k)
				}
			}
		}
	}
}

var literalKey = regexp.MustCompile(`\.T "([^"]+)"`)

// TestTemplatesUseKnownKeys: every text a template names literally is in
// the catalogs, and so is every value of the enums templates name by
// prefix (role., status., deadline., the intake form's channel.,
// means., calltype., abuse., circumstance., sex., match., and
// dash.period., admin.org.).
func TestTemplatesUseKnownKeys(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	vi := cats["vi"]
	err = fs.WalkDir(files, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		for _, m := range literalKey.FindAllStringSubmatch(string(b), -1) {
			if _, ok := vi[m[1]]; !ok {
				t.Errorf("%s uses %q, which no catalog has", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range model.Roles {
		want = append(want, "role."+r.String())
	}
	for _, s := range pb.CaseStatus_name {
		want = append(want, "status."+s)
	}
	for _, k := range process.DeadlineKinds() {
		want = append(want, "deadline."+string(k))
	}
	// The intake form's enums, each value but UNSPECIFIED (which the
	// form never offers; a child's sex may show it).
	for prefix, names := range map[string]map[int32]string{
		"channel.": pb.Channel_name, "means.": pb.ReportMeans_name, "calltype.": pb.CallType_name,
		"abuse.": pb.AbuseForm_name, "circumstance.": pb.SpecialCircumstance_name, "sex.": pb.Sex_name,
	} {
		for n, name := range names {
			if n != 0 || prefix == "sex." {
				want = append(want, prefix+name)
			}
		}
	}
	for _, f := range []string{"child_name", "birth_date", "birth_year", "phone", "commune", "caregiver_name"} {
		want = append(want, "match."+f) // ReportCandidate.matched_fields
	}
	for _, p := range dashboardPeriods {
		want = append(want, "dash.period."+p)
	}
	for _, o := range adminOrgs {
		want = append(want, "admin.org."+o)
	}
	want = append(want, "audit.from", "audit.to") // named in the audit page's date errors
	for _, k := range want {
		if _, ok := vi[k]; !ok {
			t.Errorf("no catalog text for %q", k)
		}
	}
}

// The API's refusal of a control character (string.no_control) reaches a
// person who pasted text holding one, which they cannot see: the console
// says it in the page's language, as it says the other rules of what was
// typed, not in the API's English.
func TestControlCharacterRuleIsInTheCatalogs(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	// So does a letter under a tower of marks (string.stacked_marks).
	for rule, english := range map[string]string{
		"string.no_control":    "must not contain a control character (other than tab and line breaks) or a bidirectional override",
		"string.stacked_marks": "must not stack more than 4 combining marks on a character",
	} {
		v := &errdetails.BadRequest_FieldViolation{Field: "report.narrative", Description: english, Reason: rule}
		for _, lang := range languages {
			if got := cats.rule(lang, v, "intake.rule."); got == english {
				t.Errorf("%s: the rule %s is said as the API words it: %q", lang, rule, got)
			}
		}
	}
}

// The console names the commune's roles as the law and its users do
// (domain reference section 1): the commune's child-protection worker
// (người làm công tác bảo vệ trẻ em cấp xã), the chairman of the commune
// people's committee (Chủ tịch UBND cấp xã, of a xã or a phường alike) and
// the district labour office (Phòng LĐTBXH cấp huyện).
func TestRoleTermsOfTheLaw(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[model.Role]string{
		model.RoleCommuneWorker:   "Người làm công tác bảo vệ trẻ em cấp xã",
		model.RoleCommuneChair:    "Chủ tịch UBND cấp xã",
		model.RoleDistrictOfficer: "Cán bộ Phòng LĐTBXH cấp huyện",
	} {
		if got := cats["vi"]["role."+role.String()]; got != want {
			t.Errorf("role %s reads %q, want %q", role, got, want)
		}
	}
}

// A text refused as too long says how long it may be, in the page's
// language: "Quá dài." alone leaves a person who pasted a long note to
// cut it by guesswork, send by send. The limit is the one the API's
// description names, whichever of its wordings it comes in.
func TestTooLongSaysTheLimit(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ description, limit string }{
		{"must be at most 8000 characters", "8000"},       // protovalidate's max_len
		{"display_name is at most 200 characters", "200"}, // identity's
		{"notes is longer than 4000 characters", "4000"},  // the process engine's
		{"emergency_downgrade_reason is longer than 2000 characters", "2000"},
		{"services[1].notes is longer than 4000 characters", "4000"}, // not the index's 1
	} {
		v := &errdetails.BadRequest_FieldViolation{Field: "text", Description: c.description, Reason: "string.max_len"}
		for _, lang := range languages {
			for _, screens := range [][]string{nil, {"intake.rule."}} {
				got := cats.rule(lang, v, screens...)
				if !strings.Contains(got, " "+c.limit+" ") || got == c.description {
					t.Errorf("%s %v: %q is said %q, which does not give the limit %s in the page's language", lang, screens, c.description, got, c.limit)
				}
			}
		}
	}
	// A description without a number keeps the rule's text.
	v := &errdetails.BadRequest_FieldViolation{Field: "text", Description: "too long", Reason: "string.max_len"}
	if got, want := cats.rule("vi", v), cats.text("vi", "rule.string.max_len"); got != want {
		t.Errorf("a limit the API does not give: %q, want %q", got, want)
	}
}

// The refusal of an Action Month year says the years the report is made
// for in words of the catalogs, a third place for the two figures that
// stats.CheckYear and the dashboard's year field share: a change of
// stats.FirstActionMonthYear or LastActionMonthYear that left the
// catalogs alone would refuse a year with a range the server no longer
// holds.
func TestYearRuleSaysTheReportsYears(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range languages {
		got := cats.text(lang, "rule.year.range")
		for _, year := range []int{stats.FirstActionMonthYear, stats.LastActionMonthYear} {
			if !strings.Contains(got, strconv.Itoa(year)) {
				t.Errorf("%s: rule.year.range %q does not name %d, an end of the years the report is made for", lang, got, year)
			}
		}
	}
}
