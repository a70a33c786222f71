package grpcapi

import (
	"context"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/intake"
)

// CaseResolver names the case ("cases/{number}") of a record a call named,
// or "" when there is none, whoever the caller: a call refused on a record
// goes on its case's audit trail.
type CaseResolver interface {
	CaseOf(ctx context.Context, resource string) (string, error)
}

// maxAuditedName bounds the record name a refused call is audited with.
// The refusal comes before validation, so the name may be anything; a
// longer one is not a record's name and the method stands in for it, as
// for one the validator would refuse (not UTF-8, or holding a control
// character or a bidirectional override, isControl): those would carry
// an escape sequence or an override into the log and whatever shows it.
const maxAuditedName = 200

// recordDenied audits a call the caller's role may not make: on the record
// the request names, with its case, so that the case's audit trail shows
// the attempt; on the method when the request names none (or could not be
// read).
func (a *authenticator) recordDenied(ctx context.Context, p access.Principal, method string, req any) {
	e := p.Event(a.clock.Now(), "auth.denied", method, "", audit.OutcomeDenied)
	var caseOf auditlog.CaseLookup
	if name := targetName(req); name != "" {
		e.Resource, e.Reason = name, "the role may not call "+method
		caseOf = caseLookup(a.cases, name)
	}
	// The refusal stands even if the event cannot be written. It counts
	// toward the user's bound of refused calls (auditlog.CallRefusals),
	// as their other refusals do, which looks up its case only while it
	// matters.
	_ = a.guard.calls.Record(ctx, e, caseOf)
}

// caseLookup names the case of the record a refused call named, through
// cases; nil when there is no resolver. Best effort: the refusal stands,
// and is audited, without its case when the case cannot be read.
func caseLookup(cases CaseResolver, resource string) auditlog.CaseLookup {
	if cases == nil {
		return nil
	}
	return func(ctx context.Context) string {
		c, _ := cases.CaseOf(ctx, resource)
		return c
	}
}

// targetName returns the record a request names in its "name" field, or
// else its "parent" field, or else its "case" field (a watch of one case,
// a list of a case's audit events); "" when it names none that could be a
// record's. A case is named as its number reads ("cases/HN-2026-00005"
// for "hn 2026 5", "HN–2026–5" or "HN-2026-000005"), as the calls that
// read it name it: an auditor listing the events of a case finds an
// attempt on it however its number was typed, and the event names the
// case as every other of its events does.
func targetName(req any) string {
	m, ok := req.(proto.Message)
	if !ok || m == nil {
		return ""
	}
	r := m.ProtoReflect()
	for _, field := range []protoreflect.Name{"name", "parent", "case"} {
		fd := r.Descriptor().Fields().ByName(field)
		if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
			continue
		}
		v := r.Get(fd).String()
		if v == "" || !screenedName(v) {
			continue
		}
		if number, err := intake.ParseCaseName(v); err == nil {
			return access.CaseResource(number)
		}
		return v
	}
	return ""
}

// screenedName reports whether a name taken from a request before it was
// validated may go into an audit event: at most maxAuditedName bytes of
// UTF-8 without a character isControl refuses, that could name a record
// (recordShaped).
func screenedName(v string) bool {
	return len(v) <= maxAuditedName && utf8.ValidString(v) && !strings.ContainsFunc(v, isControl) && recordShaped(v)
}

// recordShaped reports whether v could name a record: a case as
// intake.ParseCaseName reads one (typed in lower case or with spaces
// too), a report, or a name of ASCII letters, digits and "/._-@:~" (a
// user, a unit, a token, a police unit, a bare case number). The audit
// log is in the clear, on disk and in every backup, and shown to the
// auditors, who see no case content: a child's name typed where a case's
// number belongs ("cases/Nguyễn Văn An") must not be kept there, and the
// method stands in for it, as for a name the validator would refuse.
func recordShaped(v string) bool {
	if _, err := intake.ParseCaseName(v); err == nil {
		return true
	}
	switch {
	case strings.HasPrefix(v, "cases/"):
		return false
	case strings.HasPrefix(v, "reports/"):
		_, err := intake.ParseReportName(v)
		return err == nil
	}
	return !strings.ContainsFunc(v, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("/._-@:~", r))
	})
}
