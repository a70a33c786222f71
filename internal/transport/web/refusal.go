package web

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The API's refusals in the page's language. The API says why it refused
// in English for its clients, with a machine reason beside it: the rule
// id of each field violation, the ErrorInfo reason of anything else. The
// console says the reason in the catalog's words ("rule.ID",
// "refusal.REASON") and keeps the API's own sentence, which names the
// case, unit or deadline concerned, as a detail below it. Every screen
// maps refusals here, so that one rule reads the same everywhere.

// refusalText is a refusal in words: the catalog's text for its reason,
// and the API's description as a detail ("" when the catalog has no text
// for the reason, the API's message then being the text).
type refusalText struct{ Text, Detail string }

// refusal says a refused call (FAILED_PRECONDITION, ABORTED,
// ALREADY_EXISTS, RESOURCE_EXHAUSTED) by its ErrorInfo reason.
func (cs catalogs) refusal(lang string, st *status.Status) refusalText {
	key := "refusal." + errorReason(st)
	if _, ok := cs[lang][key]; ok {
		return refusalText{Text: cs.text(lang, key), Detail: st.Message()}
	}
	return refusalText{Text: st.Message()}
}

// refused says what a person can fix or wait for, and whether err is
// such a refusal: INVALID_ARGUMENT, each field violation by its rule
// ("field: text"), and the others by their reason. Any other error is
// not a refusal of what was typed.
func (cs catalogs) refused(lang string, err error) (refusalText, bool) {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.InvalidArgument:
		var lines []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					lines = append(lines, cs.fieldName(lang, v.GetField())+": "+cs.rule(lang, v))
				}
			}
		}
		if len(lines) == 0 {
			return refusalText{Text: st.Message()}, true
		}
		// One sentence: a rule's full stop ends it only at its end.
		for i := range lines[:len(lines)-1] {
			lines[i] = strings.TrimSuffix(lines[i], ".")
		}
		return refusalText{Text: strings.Join(lines, "; ")}, true
	case codes.FailedPrecondition, codes.Aborted, codes.AlreadyExists, codes.ResourceExhausted:
		return cs.refusal(lang, st), true
	}
	return refusalText{}, false
}

// rule says a field violation by its rule id: a screen's own text for
// the rule first (a screen whose fields give the rule a narrower sense,
// as the intake's "intake.rule."), then the console's "rule.", else as
// the API described it.
//
// A length the API gives in its description (string.max_len: "must be
// at most 8000 characters") is said with the rule, from the catalog's
// "RULE.limit" text: "Quá dài." alone leaves a person who pasted a long
// note to cut it by guesswork. The number is all the console reads of
// the English: each wording of the rule the API has ends "N characters".
func (cs catalogs) rule(lang string, v *errdetails.BadRequest_FieldViolation, screens ...string) string {
	for _, prefix := range append(screens, "rule.") {
		key := prefix + v.GetReason()
		text, ok := cs[lang][key]
		if !ok {
			continue
		}
		if m := describedLimit.FindStringSubmatch(v.GetDescription()); m != nil {
			if withLimit, ok := cs[lang][key+".limit"]; ok {
				return fmt.Sprintf(withLimit, m[1])
			}
		}
		return text
	}
	return v.GetDescription()
}

// describedLimit is the number of characters in the API's description of
// a length rule; a field's path in it ("services[1].notes is longer
// than 4000 characters") holds numbers too.
var describedLimit = regexp.MustCompile(`([0-9]+) characters`)

// fieldName names a field of the API's, by its path ("end_date",
// "services[0].owner"), as the pages name it: the catalog's "field.NAME"
// of each part that has one, with a repeated item's number ("Dịch vụ 1 ·
// Tên"); a field whose own name has no text keeps its path.
func (cs catalogs) fieldName(lang, path string) string {
	segs := strings.Split(path, ".")
	var parts []string
	for i, seg := range segs {
		name, index, _ := strings.Cut(seg, "[")
		text, ok := cs[lang]["field."+name]
		switch {
		case !ok && i == len(segs)-1:
			return path
		case !ok:
			continue
		}
		if index != "" {
			if n, err := strconv.Atoi(strings.TrimSuffix(index, "]")); err == nil {
				text += " " + strconv.Itoa(n+1)
			}
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, " · ")
}

// String is the refusal on one line, for the places that have one.
func (r refusalText) String() string {
	if r.Detail == "" {
		return r.Text
	}
	return r.Text + " (" + r.Detail + ")"
}
