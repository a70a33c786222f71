// Package policy holds the deadlines the law leaves to the deployment: how
// long a commune has to acknowledge a forwarded case (a shorter time for an
// emergency), a unit to accept a
// transfer, a police unit to acknowledge a referral, the next level to act
// on an escalated step, a worker to submit a returned plan again; how late
// a measure may be recorded before the record is flagged; when warnings go
// out; which communes are remote;
// and where webhooks deliver. It reads and checks the policy file; the
// shipped defaults are embedded.
package policy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

//go:embed default.json
var defaultJSON []byte

// Limit is a length of time on one clock: exactly one field is set.
type Limit struct {
	Seconds     int `json:"seconds,omitempty"` // wall clock; for tests and drills
	Hours       int `json:"hours,omitempty"`   // wall clock
	Days        int `json:"days,omitempty"`    // calendar days; a last day off runs to the next working day (Civil Code Art. 148)
	WorkingDays int `json:"working_days,omitempty"`
}

// Clock returns the clock and the length of the limit.
func (l Limit) Clock() (clock model.ClockKind, length time.Duration, days int) {
	switch {
	case l.Seconds > 0:
		return model.ClockHours, time.Duration(l.Seconds) * time.Second, 0
	case l.Hours > 0:
		return model.ClockHours, time.Duration(l.Hours) * time.Hour, 0
	case l.Days > 0:
		return model.ClockCalendarDays, 0, l.Days
	}
	return model.ClockWorkingDays, 0, l.WorkingDays
}

func (l Limit) check(field string) error {
	set := 0
	for _, v := range []int{l.Seconds, l.Hours, l.Days, l.WorkingDays} {
		if v < 0 {
			return fmt.Errorf("%s: a limit cannot be negative", field)
		}
		if v > 0 {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%s: give exactly one of seconds, hours, days, working_days", field)
	}
	if l.Hours > 24*90 || l.Days > 365 || l.WorkingDays > 250 || l.Seconds > 90*24*3600 {
		return fmt.Errorf("%s: a limit of more than a quarter (or a year of days) is not a deadline", field)
	}
	return nil
}

// Webhook is an endpoint that receives notifications, signed with
// HMAC-SHA256 under a secret read from an environment variable (secrets
// stay out of files that get copied around).
type Webhook struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	SecretEnv string `json:"secret_env"`
	// Secret is read from SecretEnv when the policy is loaded.
	Secret []byte `json:"-"`
}

// Policy is the deployment's deadline policy.
type Policy struct {
	Acknowledge Limit `json:"acknowledge"`
	// AcknowledgeEmergency replaces Acknowledge for a case that opens as an
	// emergency (Decree 56 Arts. 26(3), 31(1)), or becomes one by a joining
	// report before it is acknowledged (when it ends sooner): its 12-hour
	// clock for emergency measures already runs.
	AcknowledgeEmergency Limit `json:"acknowledge_emergency"`
	// LateRecording is the gap between applying an emergency measure or a
	// separation, or forwarding a crime report to the investigators, and
	// recording it beyond which the record is flagged for the
	// accountability reports.
	LateRecording     Limit `json:"late_recording"`
	TransferAccept    Limit `json:"transfer_accept"`
	PoliceAcknowledge Limit `json:"police_acknowledge"`
	EscalationStep    Limit `json:"escalation_step"`
	// PlanResubmit is how long the worker has to submit a plan the chair
	// returned. The law's five working days (D6) run once, from the
	// specific-assessment meeting; a return does not grant them again.
	PlanResubmit Limit     `json:"plan_resubmit"`
	Warnings     []float64 `json:"warnings"`
	// RemoteCommunes name the communes where the police have 48 hours,
	// not 24, to forward a crime report (Circular 43/2021/TT-BCA), as
	// versioned units "units/{code}@{valid_from}": GSO codes are reused
	// across reforms (00004 was Phường Trúc Bạch, then Phường Ba Đình), so
	// a bare code would make a commune remote that nobody named.
	RemoteCommunes []string  `json:"remote_communes"`
	Webhooks       []Webhook `json:"webhooks"`
}

// Fingerprint identifies the policy in effect: the file's settings over
// the shipped defaults, webhooks by name, address and the variable of
// their secret (not the secret). Instances that share a store compare it
// at start, so that a case's deadlines do not depend on which instance
// took a step.
func (p Policy) Fingerprint() string {
	// A policy is read from JSON and holds nothing JSON cannot encode.
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Default returns the shipped policy.
func Default() (Policy, error) { return Parse(defaultJSON, os.Getenv) }

// Load reads the policy file at path; "" means the shipped default. Fields
// the file leaves out keep their default.
func Load(path string) (Policy, error) {
	if path == "" {
		return Default()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	return Parse(data, os.Getenv)
}

// The legal clocks that bound the policy's limits serving them: D3, the
// law's 12 hours for an emergency's measures, bounds acknowledge_emergency;
// D13, the police's 24 hours to forward a crime report (Circular 43/2021
// Art. 5, 48 in a remote commune), bounds police_acknowledge, which must
// come first; D6, the 5 working days to draft the plan (Decree 56 Art.
// 28), bounds plan_resubmit, the time to draft a returned plan again.
const (
	emergencyHours     = 12
	policeForwardHours = 24
	planDraftDays      = 5
)

var (
	communeCode = regexp.MustCompile(`^[0-9]{5}$`)
	hookName    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
)

// Parse reads a policy over the defaults and checks it; getenv looks up
// webhook secrets. Every error names the field.
func Parse(data []byte, getenv func(string) string) (Policy, error) {
	var p Policy
	if err := strictDecode(defaultJSON, &p); err != nil {
		return Policy{}, fmt.Errorf("policy: the shipped default is broken: %w", err)
	}
	if !bytes.Equal(data, defaultJSON) {
		over := p
		// Limits given in the file replace the default whole. The decoder
		// matches keys regardless of case, so this must too.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return Policy{}, fmt.Errorf("policy: not a JSON object: %w", err)
		}
		if raw == nil {
			// null decodes without error into nothing: a file that says
			// nothing of the policy is a mistake, not the defaults.
			return Policy{}, errors.New("policy: not a JSON object: null")
		}
		if err := repeatedKey(data); err != nil {
			return Policy{}, fmt.Errorf("policy: %w", err)
		}
		for _, name := range slices.Sorted(maps.Keys(raw)) {
			if err := nullInList(name, raw[name]); err != nil {
				return Policy{}, fmt.Errorf("policy: %w", err)
			}
		}
		for name := range raw {
			for limit, l := range over.limits() {
				if strings.EqualFold(name, limit) {
					*l = Limit{}
				}
			}
		}
		if err := strictDecode(data, &over); err != nil {
			return Policy{}, fmt.Errorf("policy: %w", locate(raw, err))
		}
		p = over
	}
	return p, p.check(getenv)
}

// repeatedKey refuses a file that gives a key twice in one object,
// naming it as the checks name their fields ("acknowledge",
// "webhooks[0].url"). The decoder would take the last silently, and the
// JSON map above keeps one of them: a file that says two things of a
// deadline must not have one of them chosen for it. Keys are compared
// regardless of case, as the decoder matches them. Malformed JSON is left
// to the decoder, which says where it is.
func repeatedKey(data []byte) error {
	w := keyWalk{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	w.value("")
	return w.err
}

// keyWalk reads a JSON value token by token; it stops at the first key
// given twice (err) or at malformed JSON (broken).
type keyWalk struct {
	dec    *json.Decoder
	err    error
	broken bool
}

func (w *keyWalk) stopped() bool { return w.err != nil || w.broken }

// value reads one value, found at path in the file.
func (w *keyWalk) value(path string) {
	tok, err := w.dec.Token()
	if err != nil {
		w.broken = true
		return
	}
	switch tok {
	case json.Delim('{'):
		var seen []string
		for !w.stopped() && w.dec.More() {
			kt, err := w.dec.Token()
			key, ok := kt.(string)
			if err != nil || !ok {
				w.broken = true
				return
			}
			field := key
			if path != "" {
				field = path + "." + key
			}
			// EqualFold, not ToLower: the decoder folds as Unicode does,
			// so a long s is an s and "warningſ" is warnings again.
			if slices.ContainsFunc(seen, func(k string) bool { return strings.EqualFold(k, key) }) {
				w.err = fmt.Errorf("%s: given more than once; give each setting once", field)
				return
			}
			seen = append(seen, key)
			w.value(field)
		}
	case json.Delim('['):
		for i := 0; !w.stopped() && w.dec.More(); i++ {
			w.value(fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		return // a scalar
	}
	if !w.stopped() {
		if _, err := w.dec.Token(); err != nil { // the closing delimiter
			w.broken = true
		}
	}
}

// decodeError says a refusal of the JSON decoder in the policy's words:
// the field as the file spells it ("warnings[0]", not Go's
// "Policy.warnings.0") and what it must be, not Go's type.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		for _, part := range strings.Split(field, ".") {
			if part != "" && strings.Trim(part, "0123456789") == "" {
				field = strings.Replace(field, "."+part, "["+part+"]", 1)
			}
		}
		if n, ok := strings.CutPrefix(te.Value, "number "); ok && te.Type.Kind() == reflect.Int && !strings.ContainsAny(n, ".eE") {
			return fmt.Errorf("%s: %s is too large", field, n)
		}
		return fmt.Errorf("%s: must be %s, not %s", field, kindWords(te.Type), valueWords(te.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown field %s", name)
	}
	return err
}

// locate names where in the file a decoding error lies, as the checks
// below name their fields: json names an unknown key by itself alone
// ("unknown field \"minutes\""), so the objects that may hold it are
// decoded again, each alone, to find it.
func locate(raw map[string]json.RawMessage, err error) error {
	if !strings.HasPrefix(err.Error(), "json: unknown field ") {
		return decodeError(err)
	}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		switch {
		case strings.EqualFold(name, "webhooks"):
			var hooks []json.RawMessage
			if json.Unmarshal(raw[name], &hooks) != nil {
				continue
			}
			for i, h := range hooks {
				if herr := strictDecode(h, &Webhook{}); herr != nil {
					return fmt.Errorf("webhooks[%d]: %w", i, decodeError(herr))
				}
			}
		case isLimit(name):
			if lerr := strictDecode(raw[name], &Limit{}); lerr != nil {
				return fmt.Errorf("%s: %w", name, decodeError(lerr))
			}
		}
	}
	return decodeError(err)
}

// kindWords says what a value of the policy's type t is.
func kindWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "text in quotes"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		if t == reflect.TypeFor[Limit]() {
			return `an object such as {"hours": 24}`
		}
	}
	return "an object"
}

// valueWords says what the file gave, from the decoder's name of it
// ("number 1.5", "string").
func valueWords(v string) string {
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return n
	}
	switch v {
	case "string":
		return "text"
	case "number":
		return "a number"
	case "array":
		return "a list"
	case "bool":
		return "a true/false value"
	}
	return "an " + v
}

// isLimit reports whether a key of the file names a limit (the decoder
// matches keys regardless of case).
func isLimit(name string) bool {
	for limit := range (&Policy{}).limits() {
		if strings.EqualFold(name, limit) {
			return true
		}
	}
	return false
}

// nullInList refuses null given as one of the policy's lists, or as an
// element of one. null decodes into an empty list, which for warnings is
// none at all; an element null decodes to nothing, over the default's
// value at its place in the list ([0.5, null] was the default's [0.5,
// 0.75]). Neither is what the file says. Lists that are no lists are left
// to the decoder, which names them.
func nullInList(name string, value json.RawMessage) error {
	if !isList(name) {
		return nil
	}
	if string(bytes.TrimSpace(value)) == "null" {
		return fmt.Errorf("%s: null is not a list; give [] for none, or leave %s out for the default", name, name)
	}
	var elems []json.RawMessage
	if json.Unmarshal(value, &elems) != nil {
		return nil
	}
	for i, e := range elems {
		if string(bytes.TrimSpace(e)) == "null" {
			return fmt.Errorf("%s[%d]: null is not a value; leave it out of the list", name, i)
		}
	}
	return nil
}

// isList reports whether a key of the file names one of the policy's
// lists (the decoder matches keys regardless of case).
func isList(name string) bool {
	for _, list := range []string{"warnings", "remote_communes", "webhooks"} {
		if strings.EqualFold(name, list) {
			return true
		}
	}
	return false
}

// limits returns p's limits by the names the file gives them.
func (p *Policy) limits() map[string]*Limit {
	return map[string]*Limit{
		"acknowledge":           &p.Acknowledge,
		"acknowledge_emergency": &p.AcknowledgeEmergency,
		"late_recording":        &p.LateRecording,
		"transfer_accept":       &p.TransferAccept,
		"police_acknowledge":    &p.PoliceAcknowledge,
		"escalation_step":       &p.EscalationStep,
		"plan_resubmit":         &p.PlanResubmit,
	}
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (p *Policy) check(getenv func(string) string) error {
	for _, l := range []struct {
		name  string
		limit Limit
	}{
		{"acknowledge", p.Acknowledge}, {"acknowledge_emergency", p.AcknowledgeEmergency},
		{"late_recording", p.LateRecording}, {"transfer_accept", p.TransferAccept},
		{"police_acknowledge", p.PoliceAcknowledge}, {"escalation_step", p.EscalationStep},
		{"plan_resubmit", p.PlanResubmit},
	} {
		if err := l.limit.check(l.name); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	// An emergency's measures are due 12 hours after the information came
	// in (D3, Decree 56 Art. 26(3)): a commune given longer than that to
	// acknowledge the case could take it up after the child's time ran
	// out. Days and working days are longer by nature.
	if _, length, _ := p.AcknowledgeEmergency.Clock(); length == 0 || length > emergencyHours*time.Hour {
		return fmt.Errorf("policy: acknowledge_emergency: an emergency's measures are due %d hours after the report was received (D3); give at most %d hours, in seconds or hours", emergencyHours, emergencyHours)
	}
	// Likewise the police forward a crime report to the investigators
	// within 24 hours of its referral (D13), after acknowledging it: a
	// longer time to acknowledge would warn and breach after the law's
	// own time ran out, and tell nobody anything D13 did not.
	if _, length, _ := p.PoliceAcknowledge.Clock(); length == 0 || length > policeForwardHours*time.Hour {
		return fmt.Errorf("policy: police_acknowledge: the police forward a crime report to the investigators within %d hours of its referral (D13), after acknowledging it; give at most %d hours, in seconds or hours", policeForwardHours, policeForwardHours)
	}
	// A returned plan is drafted again: the law gives a draft 5 working
	// days (D6), and a return may not give it longer. Calendar days and
	// hours within as many never end later.
	if l := p.PlanResubmit; l.WorkingDays > planDraftDays || l.Days > planDraftDays || l.Hours > planDraftDays*24 || l.Seconds > planDraftDays*24*3600 {
		return fmt.Errorf("policy: plan_resubmit: the law gives a plan's draft %d working days (D6), and a returned plan no longer; give at most %d working days (or %d days, %d hours)", planDraftDays, planDraftDays, planDraftDays, planDraftDays*24)
	}
	for i, w := range p.Warnings {
		if w <= 0 || w >= 1 {
			return fmt.Errorf("policy: warnings[%d]: %v is not a fraction between 0 and 1", i, w)
		}
		if i > 0 && w <= p.Warnings[i-1] {
			return fmt.Errorf("policy: warnings[%d]: fractions must increase", i)
		}
	}
	for i, c := range p.RemoteCommunes {
		if communeCode.MatchString(c) {
			return fmt.Errorf("policy: remote_communes[%d]: %q is a bare commune code, which names different communes before and after a reform; give the versioned unit, e.g. units/%s@2025-07-01", i, c, c)
		}
		name, ok := strings.CutPrefix(c, "units/")
		k, err := units.ParseKey(name)
		if !ok || err != nil || !communeCode.MatchString(k.Code) {
			return fmt.Errorf("policy: remote_communes[%d]: %q is not a commune unit name like units/{5-digit code}@{valid_from}", i, c)
		}
		if slices.Contains(p.RemoteCommunes[:i], c) {
			return fmt.Errorf("policy: remote_communes[%d]: %s is listed twice", i, c)
		}
	}
	names := map[string]bool{}
	for i := range p.Webhooks {
		h := &p.Webhooks[i]
		field := fmt.Sprintf("policy: webhooks[%d]", i)
		if !hookName.MatchString(h.Name) {
			return fmt.Errorf("%s.name: %q is not a webhook name: 1 to 63 lower case letters, digits and '-', starting with a letter", field, h.Name)
		}
		if names[h.Name] {
			return fmt.Errorf("%s.name: %q is named twice: each webhook's name must be unique (its delivery cursor is kept under it)", field, h.Name)
		}
		names[h.Name] = true
		u, err := url.Parse(h.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s.url: %q is not an http(s) URL", field, h.URL)
		}
		if h.SecretEnv == "" {
			return fmt.Errorf("%s.secret_env: name the environment variable that holds the signing secret", field)
		}
		secret := getenv(h.SecretEnv)
		// Characters, as the error says, not bytes: a secret of
		// Vietnamese letters takes two or three bytes a letter, and
		// len let an 8-letter secret pass for a 16-character one.
		// The HMAC still signs with the secret's bytes as given.
		if utf8.RuneCountInString(secret) < 16 {
			return fmt.Errorf("%s.secret_env: %s must hold a secret of at least 16 characters", field, h.SecretEnv)
		}
		h.Secret = []byte(secret)
	}
	return nil
}

// Remote reports whether a commune, by its versioned unit name
// ("units/{code}@{valid_from}"), is remote.
func (p Policy) Remote(unit string) bool { return slices.Contains(p.RemoteCommunes, unit) }

// CheckUnits checks the policy's units against the reference data: each
// remote commune must be a commune the registry knows (a unit no longer in
// force may stay, for the cases opened while it was).
func (p Policy) CheckUnits(reg *units.Registry) error {
	for i, c := range p.RemoteCommunes {
		k, _ := units.ParseKey(strings.TrimPrefix(c, "units/"))
		if u, ok := reg.Get(k); !ok || u.Level != units.LevelCommune {
			return fmt.Errorf("policy: remote_communes[%d]: %s is not a commune in the unit reference data", i, c)
		}
	}
	return nil
}

// String summarises the policy for the start-up log, without secrets.
func (p Policy) String() string {
	var hooks []string
	for _, h := range p.Webhooks {
		hooks = append(hooks, h.Name)
	}
	return fmt.Sprintf("acknowledge=%v acknowledge_emergency=%v late_recording=%v transfer_accept=%v police_acknowledge=%v escalation_step=%v plan_resubmit=%v warnings=%v remote_communes=%d webhooks=[%s]",
		p.Acknowledge, p.AcknowledgeEmergency, p.LateRecording, p.TransferAccept, p.PoliceAcknowledge, p.EscalationStep, p.PlanResubmit, p.Warnings, len(p.RemoteCommunes), strings.Join(hooks, " "))
}
