package policy_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/units"
)

// env is a getenv over a map that records what was looked up.
type env struct {
	vars   map[string]string
	lookup []string
}

func (e *env) get(name string) string {
	e.lookup = append(e.lookup, name)
	return e.vars[name]
}

func noEnv(string) string { return "" }

var defaults = policy.Policy{
	Acknowledge:          policy.Limit{Hours: 24},
	AcknowledgeEmergency: policy.Limit{Hours: 2},
	LateRecording:        policy.Limit{Hours: 24},
	TransferAccept:       policy.Limit{WorkingDays: 2},
	PoliceAcknowledge:    policy.Limit{Hours: 24},
	EscalationStep:       policy.Limit{WorkingDays: 1},
	PlanResubmit:         policy.Limit{WorkingDays: 2},
	Warnings:             []float64{0.5, 0.75},
}

// same compares policies treating nil and empty slices alike.
func same(a, b policy.Policy) bool {
	norm := func(p policy.Policy) policy.Policy {
		if len(p.Warnings) == 0 {
			p.Warnings = nil
		}
		if len(p.RemoteCommunes) == 0 {
			p.RemoteCommunes = nil
		}
		if len(p.Webhooks) == 0 {
			p.Webhooks = nil
		}
		return p
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestDefault(t *testing.T) {
	p, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	if !same(p, defaults) {
		t.Errorf("Default() = %+v, want %+v", p, defaults)
	}
	if p.Remote("units/00004@2025-07-01") {
		t.Error("the default has a remote commune")
	}
}

func TestLoadEmptyPathIsDefault(t *testing.T) {
	p, err := policy.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !same(p, defaults) {
		t.Errorf(`Load("") = %+v, want the default %+v`, p, defaults)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(`{"escalation_step": {"hours": 8}, "remote_communes": ["units/01234@2025-07-01"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := defaults
	want.EscalationStep = policy.Limit{Hours: 8}
	want.RemoteCommunes = []string{"units/01234@2025-07-01"}
	if !same(p, want) {
		t.Errorf("Load = %+v, want %+v", p, want)
	}
	// The same code before the reform named another commune.
	if !p.Remote("units/01234@2025-07-01") || p.Remote("units/01234@2020-01-01") || p.Remote("units/01235@2025-07-01") {
		t.Error("Remote does not follow remote_communes")
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := policy.Load(path)
	if err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load error %q: want fs.ErrNotExist naming the path", err)
	}
}

func TestParseOverrides(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		edit       func(p *policy.Policy)
	}{
		{"empty object", `{}`, func(*policy.Policy) {}},
		{"one limit, same clock", `{"acknowledge": {"hours": 48}}`,
			func(p *policy.Policy) { p.Acknowledge = policy.Limit{Hours: 48} }},
		// A limit given replaces the default whole: the default's hours do
		// not linger beside the file's working days.
		{"one limit, other clock", `{"acknowledge": {"working_days": 3}}`,
			func(p *policy.Policy) { p.Acknowledge = policy.Limit{WorkingDays: 3} }},
		{"seconds for drills", `{"police_acknowledge": {"seconds": 90}}`,
			func(p *policy.Policy) { p.PoliceAcknowledge = policy.Limit{Seconds: 90} }},
		{"transfer in calendar days", `{"transfer_accept": {"days": 3}}`,
			func(p *policy.Policy) { p.TransferAccept = policy.Limit{Days: 3} }},
		{"warnings only", `{"warnings": [0.9]}`,
			func(p *policy.Policy) { p.Warnings = []float64{0.9} }},
		{"no warnings", `{"warnings": []}`,
			func(p *policy.Policy) { p.Warnings = nil }},
		{"upper bounds", `{"acknowledge": {"hours": 2160}, "transfer_accept": {"working_days": 250}, "late_recording": {"seconds": 7776000}, "escalation_step": {"days": 365}}`,
			func(p *policy.Policy) {
				p.Acknowledge = policy.Limit{Hours: 2160}
				p.TransferAccept = policy.Limit{WorkingDays: 250}
				p.LateRecording = policy.Limit{Seconds: 7776000}
				p.EscalationStep = policy.Limit{Days: 365}
			}},
		// The limits that serve a legal clock reach it, no further.
		{"the legal bounds", `{"police_acknowledge": {"seconds": 86400}, "plan_resubmit": {"working_days": 5}}`,
			func(p *policy.Policy) {
				p.PoliceAcknowledge = policy.Limit{Seconds: 86400}
				p.PlanResubmit = policy.Limit{WorkingDays: 5}
			}},
		{"the legal bounds, other units", `{"police_acknowledge": {"hours": 24}, "plan_resubmit": {"days": 5}}`,
			func(p *policy.Policy) {
				p.PoliceAcknowledge = policy.Limit{Hours: 24}
				p.PlanResubmit = policy.Limit{Days: 5}
			}},
		{"emergency acknowledge and late recording", `{"acknowledge_emergency": {"seconds": 600}, "late_recording": {"working_days": 1}}`,
			func(p *policy.Policy) {
				p.AcknowledgeEmergency = policy.Limit{Seconds: 600}
				p.LateRecording = policy.Limit{WorkingDays: 1}
			}},
		// encoding/json matches keys regardless of case; such a key must
		// replace the default whole as well.
		{"plan resubmit in hours", `{"plan_resubmit": {"hours": 48}}`,
			func(p *policy.Policy) { p.PlanResubmit = policy.Limit{Hours: 48} }},
		{"key in other case", `{"Acknowledge": {"days": 2}}`,
			func(p *policy.Policy) { p.Acknowledge = policy.Limit{Days: 2} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Parse([]byte(tt.data), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			want.Warnings = []float64{0.5, 0.75}
			tt.edit(&want)
			if !same(p, want) {
				t.Errorf("Parse(%s) = %+v, want %+v", tt.data, p, want)
			}
		})
	}
}

// Parse must not change the defaults later calls see.
func TestParseLeavesDefaultsAlone(t *testing.T) {
	if _, err := policy.Parse([]byte(`{"warnings": [0.1], "acknowledge": {"hours": 1}}`), noEnv); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	if !same(p, defaults) {
		t.Errorf("Default() after a Parse = %+v", p)
	}
}

func TestParseErrors(t *testing.T) {
	vars := map[string]string{
		"HOOK_SECRET":  "0123456789abcdef", // 16: enough
		"SHORT_SECRET": "0123456789abcde",  // 15
	}
	hookWith := func(fields string) string { return `{"webhooks": [{` + fields + `}]}` }
	for _, tt := range []struct {
		name, data string
		want       []string // every one must be in the error
	}{
		{"two units", `{"acknowledge": {"hours": 24, "days": 1}}`, []string{"acknowledge", "exactly one"}},
		{"two units, working days", `{"transfer_accept": {"days": 1, "working_days": 1}}`, []string{"transfer_accept", "exactly one"}},
		{"negative", `{"transfer_accept": {"working_days": -1}}`, []string{"transfer_accept", "negative"}},
		{"negative beside a valid unit", `{"escalation_step": {"hours": 1, "seconds": -5}}`, []string{"escalation_step", "negative"}},
		{"zero", `{"police_acknowledge": {"hours": 0}}`, []string{"police_acknowledge", "exactly one"}},
		{"emergency acknowledge with two units", `{"acknowledge_emergency": {"hours": 2, "seconds": 1}}`, []string{"acknowledge_emergency", "exactly one"}},
		{"late recording zero", `{"late_recording": {"hours": 0}}`, []string{"late_recording", "exactly one"}},
		{"empty limit", `{"escalation_step": {}}`, []string{"escalation_step", "exactly one"}},
		{"null limit", `{"acknowledge": null}`, []string{"acknowledge", "exactly one"}},
		{"too many hours", `{"acknowledge": {"hours": 2161}}`, []string{"acknowledge", "not a deadline"}},
		{"too many days", `{"escalation_step": {"days": 366}}`, []string{"escalation_step", "not a deadline"}},
		{"too many working days", `{"transfer_accept": {"working_days": 251}}`, []string{"transfer_accept", "not a deadline"}},
		{"too many seconds", `{"late_recording": {"seconds": 7776001}}`, []string{"late_recording", "not a deadline"}},
		// The police acknowledge a referral before they forward it, which
		// D13 wants within 24 hours of it; a returned plan is drafted
		// again, which D6 wants within 5 working days.
		{"police acknowledge past D13", `{"police_acknowledge": {"hours": 25}}`, []string{"police_acknowledge", "D13", "at most 24 hours"}},
		{"police acknowledge past D13 in seconds", `{"police_acknowledge": {"seconds": 86401}}`, []string{"police_acknowledge", "D13"}},
		{"police acknowledge in days", `{"police_acknowledge": {"days": 1}}`, []string{"police_acknowledge", "D13", "in seconds or hours"}},
		{"police acknowledge in working days", `{"police_acknowledge": {"working_days": 1}}`, []string{"police_acknowledge", "D13"}},
		{"plan resubmit past D6", `{"plan_resubmit": {"working_days": 6}}`, []string{"plan_resubmit", "D6", "at most 5 working days"}},
		{"plan resubmit past D6 in days", `{"plan_resubmit": {"days": 6}}`, []string{"plan_resubmit", "D6"}},
		{"plan resubmit past D6 in hours", `{"plan_resubmit": {"hours": 121}}`, []string{"plan_resubmit", "D6"}},
		{"warning zero", `{"warnings": [0, 0.5]}`, []string{"warnings[0]"}},
		{"warning one", `{"warnings": [0.5, 1]}`, []string{"warnings[1]"}},
		{"warning negative", `{"warnings": [-0.5]}`, []string{"warnings[0]"}},
		{"warning above one", `{"warnings": [1.5]}`, []string{"warnings[0]"}},
		{"warnings decreasing", `{"warnings": [0.75, 0.5]}`, []string{"warnings[1]", "increase"}},
		{"warnings repeated", `{"warnings": [0.5, 0.5]}`, []string{"warnings[1]", "increase"}},
		{"plan_resubmit empty", `{"plan_resubmit": {}}`, []string{"plan_resubmit", "exactly one"}},
		{"commune bare code", `{"remote_communes": ["units/00091@2025-07-01", "00004"]}`, []string{"remote_communes[1]", `"00004"`, "bare commune code", "units/00004@"}},
		{"commune too short", `{"remote_communes": ["units/1234@2025-07-01"]}`, []string{"remote_communes[0]", "units/{5-digit code}@{valid_from}"}},
		{"commune too long", `{"remote_communes": ["units/123456@2025-07-01"]}`, []string{"remote_communes[0]"}},
		{"commune not digits", `{"remote_communes": ["units/abcde@2025-07-01"]}`, []string{"remote_communes[0]"}},
		{"commune without date", `{"remote_communes": ["units/00004"]}`, []string{"remote_communes[0]"}},
		{"commune bad date", `{"remote_communes": ["units/00004@2025-13-01"]}`, []string{"remote_communes[0]"}},
		{"commune without prefix", `{"remote_communes": ["00004@2025-07-01"]}`, []string{"remote_communes[0]"}},
		{"commune twice", `{"remote_communes": ["units/00004@2025-07-01", "units/00004@2025-07-01"]}`, []string{"remote_communes[1]", "twice"}},
		{"unknown field", `{"acknowledgement": {"hours": 1}}`, []string{`"acknowledgement"`, "unknown field"}},
		{"unknown unit", `{"acknowledge": {"minutes": 30}}`, []string{`"minutes"`, "unknown field", "acknowledge:"}},
		{"secret in the file", hookWith(`"name": "ops", "url": "https://hooks.example/x", "secret_env": "HOOK_SECRET", "secret": "0123456789abcdef"`), []string{`"secret"`, "unknown field", "webhooks[0]:"}},
		// A key given twice would leave the deadline to whichever the
		// decoder read last: the file says two things, and neither is
		// taken silently (the decoder matches keys regardless of case).
		{"limit given twice", `{"acknowledge": {"hours": 1}, "acknowledge": {"hours": 50}}`, []string{"acknowledge:", "more than once"}},
		{"limit given twice in two cases", `{"acknowledge": {"hours": 1}, "Acknowledge": {"hours": 50}}`, []string{"Acknowledge:", "more than once"}},
		{"unit given twice", `{"transfer_accept": {"working_days": 2, "working_days": 5}}`, []string{"transfer_accept.working_days:", "more than once"}},
		{"warnings given twice", `{"warnings": [0.5], "warnings": [0.9]}`, []string{"warnings:", "more than once"}},
		// The decoder folds case as Unicode does: the Kelvin sign is a k,
		// a long s an s, so these name the same keys too.
		{"limit given twice, once with a Kelvin sign", `{"acknowledge": {"hours": 1}, "acKnowledge": {"hours": 50}}`, []string{"more than once"}},
		{"warnings given twice, once with a long s", `{"warnings": [0.5], "warningſ": [0.9]}`, []string{"more than once"}},
		{"hook field given twice", hookWith(`"name": "ops", "url": "https://hooks.example/x", "url": "https://elsewhere.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].url:", "more than once"}},
		// null would silently mean an empty list: no warning at all, the
		// way a template that lost its value writes it. A list is given,
		// [] for none, or the key left out for the default.
		{"warnings null", `{"warnings": null}`, []string{"warnings:", "null", "[]"}},
		{"remote communes null", `{"remote_communes": null}`, []string{"remote_communes:", "null"}},
		{"webhooks null", `{"webhooks": null}`, []string{"webhooks:", "null"}},
		// null inside a list decodes to nothing over the default's value
		// at its place: [0.5, null] was the default's [0.5, 0.75].
		{"warning null", `{"warnings": [0.5, null]}`, []string{"warnings[1]:", "null"}},
		{"warnings of null", `{"Warnings": [null]}`, []string{"Warnings[0]:", "null"}},
		{"remote commune null", `{"remote_communes": [null]}`, []string{"remote_communes[0]:", "null"}},
		{"not an object", `[1, 2]`, []string{"not a JSON object"}},
		{"not JSON", `acknowledge: 24h`, []string{"not a JSON object"}},
		{"empty file", ``, []string{"not a JSON object"}},
		{"null", ` null `, []string{"not a JSON object"}},
		{"emergency acknowledge beyond D3", `{"acknowledge_emergency": {"hours": 13}}`, []string{"acknowledge_emergency", "12 hours"}},
		{"emergency acknowledge in days", `{"acknowledge_emergency": {"days": 1}}`, []string{"acknowledge_emergency", "12 hours"}},
		{"emergency acknowledge in working days", `{"acknowledge_emergency": {"working_days": 1}}`, []string{"acknowledge_emergency", "12 hours"}},
		{"wrong type", `{"acknowledge": {"hours": "24"}}`, []string{"acknowledge.hours:", "a whole number"}},
		{"a fraction of a day", `{"transfer_accept": {"working_days": 0.5}}`, []string{"transfer_accept.working_days:", "a whole number"}},
		{"hook name upper case", hookWith(`"name": "Ops", "url": "https://hooks.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].name", `"Ops"`, "lower case letters"}},
		{"hook name empty", hookWith(`"url": "https://hooks.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].name"}},
		{"hook name starts with a digit", hookWith(`"name": "1ops", "url": "https://hooks.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].name", "starting with a letter"}},
		{"hook name with a slash", hookWith(`"name": "ops/a", "url": "https://hooks.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].name"}},
		{"hook name too long", hookWith(`"name": "` + "a" + strings.Repeat("b", 63) + `", "url": "https://hooks.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].name", "63"}},
		{"hook name duplicate", `{"webhooks": [
			{"name": "ops", "url": "https://hooks.example/a", "secret_env": "HOOK_SECRET"},
			{"name": "ops", "url": "https://hooks.example/b", "secret_env": "HOOK_SECRET"}]}`, []string{"webhooks[1].name", "unique"}},
		{"hook URL scheme", hookWith(`"name": "ops", "url": "ftp://hooks.example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].url"}},
		{"hook URL no host", hookWith(`"name": "ops", "url": "https:///x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].url"}},
		{"hook URL relative", hookWith(`"name": "ops", "url": "/hooks/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].url"}},
		{"hook URL missing", hookWith(`"name": "ops", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].url"}},
		{"hook URL unparsable", hookWith(`"name": "ops", "url": "https://hooks example/x", "secret_env": "HOOK_SECRET"`), []string{"webhooks[0].url"}},
		{"hook secret_env missing", hookWith(`"name": "ops", "url": "https://hooks.example/x"`), []string{"webhooks[0].secret_env"}},
		{"hook secret unset", hookWith(`"name": "ops", "url": "https://hooks.example/x", "secret_env": "UNSET_SECRET"`), []string{"webhooks[0].secret_env", "UNSET_SECRET", "16"}},
		{"hook secret too short", hookWith(`"name": "ops", "url": "https://hooks.example/x", "secret_env": "SHORT_SECRET"`), []string{"webhooks[0].secret_env", "SHORT_SECRET", "16"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{vars: vars}
			_, err := policy.Parse([]byte(tt.data), e.get)
			if err == nil {
				t.Fatalf("Parse(%s) succeeded", tt.data)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "policy: ") {
				t.Errorf("error %q does not start with \"policy: \"", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			for _, s := range vars {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds a secret", msg)
				}
			}
		})
	}
}

func TestWebhookSecretFromGetenv(t *testing.T) {
	e := &env{vars: map[string]string{
		"OPS_SECRET":   "ops-secret-0123456789",
		"AUDIT_SECRET": "0123456789abcdef",
	}}
	p, err := policy.Parse([]byte(`{"webhooks": [
		{"name": "ops", "url": "https://hooks.example/ops?k=1", "secret_env": "OPS_SECRET"},
		{"name": "audit-2", "url": "http://10.0.0.5:8080/in", "secret_env": "AUDIT_SECRET"}]}`), e.get)
	if err != nil {
		t.Fatal(err)
	}
	want := []policy.Webhook{
		{Name: "ops", URL: "https://hooks.example/ops?k=1", SecretEnv: "OPS_SECRET", Secret: []byte("ops-secret-0123456789")},
		{Name: "audit-2", URL: "http://10.0.0.5:8080/in", SecretEnv: "AUDIT_SECRET", Secret: []byte("0123456789abcdef")},
	}
	if !reflect.DeepEqual(p.Webhooks, want) {
		t.Errorf("webhooks = %+v, want %+v", p.Webhooks, want)
	}
	if !reflect.DeepEqual(e.lookup, []string{"OPS_SECRET", "AUDIT_SECRET"}) {
		t.Errorf("getenv looked up %v", e.lookup)
	}
	// The other fields keep their defaults.
	p.Webhooks = nil
	if !same(p, defaults) {
		t.Errorf("policy = %+v, want the defaults", p)
	}
}

func TestStringHasNoSecret(t *testing.T) {
	e := &env{vars: map[string]string{"OPS_SECRET": "ops-secret-0123456789"}}
	p, err := policy.Parse([]byte(`{"webhooks": [{"name": "ops", "url": "https://hooks.example/ops", "secret_env": "OPS_SECRET"}]}`), e.get)
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	if strings.Contains(s, "ops-secret-0123456789") {
		t.Errorf("String() holds the secret: %s", s)
	}
	if !strings.Contains(s, "webhooks=[ops]") {
		t.Errorf("String() = %s, want the webhook's name", s)
	}
}

func TestLimitClock(t *testing.T) {
	for _, tt := range []struct {
		limit  policy.Limit
		clock  model.ClockKind
		length time.Duration
		days   int
	}{
		{policy.Limit{Seconds: 90}, model.ClockHours, 90 * time.Second, 0},
		{policy.Limit{Hours: 24}, model.ClockHours, 24 * time.Hour, 0},
		{policy.Limit{Hours: 48}, model.ClockHours, 48 * time.Hour, 0},
		{policy.Limit{Days: 15}, model.ClockCalendarDays, 0, 15},
		{policy.Limit{WorkingDays: 2}, model.ClockWorkingDays, 0, 2},
	} {
		clock, length, days := tt.limit.Clock()
		if clock != tt.clock || length != tt.length || days != tt.days {
			t.Errorf("%+v.Clock() = %s, %v, %d; want %s, %v, %d", tt.limit, clock, length, days, tt.clock, tt.length, tt.days)
		}
	}
}

// A remote commune must be a commune of the unit reference data: a
// district, or a commune version that never existed, is refused at start.
func TestCheckUnits(t *testing.T) {
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		unit string
		ok   bool
	}{
		{"units/00004@2025-07-01", true},  // Phường Ba Đình
		{"units/00004@2020-01-01", true},  // Phường Trúc Bạch, no longer in force
		{"units/00004@2021-03-01", false}, // no version of 00004 starts then
		{"units/99999@2025-07-01", false},
	} {
		p, err := policy.Parse([]byte(`{"remote_communes": ["`+tt.unit+`"]}`), noEnv)
		if err != nil {
			t.Fatalf("Parse %s: %v", tt.unit, err)
		}
		err = p.CheckUnits(reg)
		if (err == nil) != tt.ok {
			t.Errorf("CheckUnits(%s) = %v, want ok %v", tt.unit, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "remote_communes[0]") {
			t.Errorf("CheckUnits(%s) = %q, does not name the field", tt.unit, err)
		}
	}
}

// TestREADMEPolicyExample: the policy file the README shows under
// "Deadlines, escalation and the policy file" is one serve accepts, with
// its webhook's secret in the environment, and says what the README says
// of it: its limits are the shipped defaults.
func TestREADMEPolicyExample(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Deadlines, escalation and the policy file\n")
	if !ok {
		t.Fatal("README.md has no section \"Deadlines, escalation and the policy file\"")
	}
	_, rest, ok := strings.Cut(section, "\n```json\n")
	if !ok {
		t.Fatal("README.md's policy section shows no ```json block")
	}
	example, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatal("README.md's policy example is never closed")
	}
	getenv := (&env{vars: map[string]string{"CHILDCASE_WEBHOOK_SO_Y_TE": "a secret of 16+ chars"}}).get
	p, err := policy.Parse([]byte(example), getenv)
	if err != nil {
		t.Fatalf("the README's policy example is refused: %v\n%s", err, example)
	}
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckUnits(reg); err != nil {
		t.Errorf("the README's policy example names a unit serve refuses: %v", err)
	}
	limits := p
	limits.RemoteCommunes, limits.Webhooks = nil, nil
	if !same(limits, defaults) {
		t.Errorf("the README's example limits %+v differ from the shipped default %+v", limits, defaults)
	}
	if len(p.RemoteCommunes) != 1 || len(p.Webhooks) != 1 || p.Webhooks[0].Name != "so-y-te" {
		t.Errorf("the README's example reads as remote communes %v and webhooks %v", p.RemoteCommunes, p.Webhooks)
	}
	// Without its secret in the environment, or with one too short, the
	// example is refused with the error the README quotes, so a reader
	// who copies the file knows what to set.
	for _, secret := range []string{"", "fifteen chars!!"} {
		_, err := policy.Parse([]byte(example), (&env{vars: map[string]string{"CHILDCASE_WEBHOOK_SO_Y_TE": secret}}).get)
		if err == nil {
			t.Errorf("the README's policy example with a secret of %d characters is accepted", len(secret))
			continue
		}
		if quoted := strings.Join(strings.Fields(err.Error()), " "); !strings.Contains(strings.Join(strings.Fields(section), " "), "`"+quoted+"`") {
			t.Errorf("the README's policy section does not quote the refusal of its example without a secret: `%s`", quoted)
		}
	}
}

// TestParseErrorsInTheProductsWords: a value of the wrong kind is refused
// naming the field as the file spells it and what it must be, not in the
// JSON decoder's words ("cannot unmarshal number 1.5 into Go struct field
// Policy.acknowledge.hours of type int").
func TestParseErrorsInTheProductsWords(t *testing.T) {
	goWords := regexp.MustCompile(`Go struct|unmarshal|of type|json:|float64|\bint\b|policy\.Limit`)
	for _, tt := range []struct{ data, want string }{
		{`{"acknowledge": {"hours": 1.5}}`, `policy: acknowledge.hours: must be a whole number, not 1.5`},
		{`{"acknowledge": {"hours": "24"}}`, `policy: acknowledge.hours: must be a whole number, not text`},
		{`{"acknowledge": {"hours": 99999999999999999999}}`, `policy: acknowledge.hours: 99999999999999999999 is too large`},
		{`{"acknowledge": "24h"}`, `policy: acknowledge: must be an object such as {"hours": 24}, not text`},
		{`{"warnings": ["half"]}`, `policy: warnings[0]: must be a number, not text`},
		{`{"warnings": 0.5}`, `policy: warnings: must be a list, not a number`},
		{`{"remote_communes": [4]}`, `policy: remote_communes[0]: must be text in quotes, not a number`},
		{`{"acknowledge": {"duration": "5"}}`, `policy: acknowledge: unknown field "duration"`},
	} {
		_, err := policy.Parse([]byte(tt.data), func(string) string { return "" })
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.data, err, tt.want)
		}
		if err != nil && goWords.MatchString(err.Error()) {
			t.Errorf("%s: %v speaks Go", tt.data, err)
		}
	}
}

// TestWebhookSecretCountsCharactersNotBytes holds the README's "a secret
// of at least 16 characters": a secret of Vietnamese letters takes two or
// three bytes a letter, and counting bytes let an 8-letter secret through.
func TestWebhookSecretCountsCharactersNotBytes(t *testing.T) {
	const hook = `{"webhooks": [{"name": "so-y-te", "url": "https://example.org/hook", "secret_env": "S"}]}`
	for _, tc := range []struct {
		secret string
		ok     bool
	}{
		{"mậtkhẩuhộisởytế", false}, // 15 letters, 25 bytes
		{"ạạạạạạạạ", false},        // 8 letters, 24 bytes
		{"mậtkhẩuhộisởytếx", true}, // 16 letters
		{"0123456789abcdef", true}, // 16 ASCII letters
		{"0123456789abcde", false}, // 15 ASCII letters
	} {
		e := &env{vars: map[string]string{"S": tc.secret}}
		_, err := policy.Parse([]byte(hook), e.get)
		if tc.ok && err != nil {
			t.Errorf("secret of %d letters (%d bytes): %v", len([]rune(tc.secret)), len(tc.secret), err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "must hold a secret of at least 16 characters")) {
			t.Errorf("secret of %d letters (%d bytes): err = %v, want it refused as shorter than 16 characters", len([]rune(tc.secret)), len(tc.secret), err)
		}
	}
}
