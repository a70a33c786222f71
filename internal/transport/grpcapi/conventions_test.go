package grpcapi

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/childcase/childcase/api/childcase/v1" // registers the API's files
)

// conventionExceptions are the methods that break one of the API's
// conventions on purpose, by method and convention, with the reason. A
// method that breaks one without being listed here fails
// TestEveryMethodKeepsTheAPIConventions, and so does an exception that no
// longer holds, so that the list stays the truth.
var conventionExceptions = map[string]map[string]string{
	"childcase.v1.CaseService.SearchCases": {
		"pages": "a search answers its best candidates, at most 20 (a larger page_size is refused), ranked together: a next page would rank again and show out-of-scope candidate views beyond what an intake needs",
	},
	"childcase.v1.CaseService.ExportCases": {
		"resource": "streams a file (google.api.HttpBody), not a resource",
	},
	"childcase.v1.AdminService.BackupDatabase": {
		"resource": "streams the database file (google.api.HttpBody), not a resource",
	},
	"childcase.v1.StatisticsService.GetActionMonthReport": {
		"resource": "a generated file (google.api.HttpBody), not a resource",
	},
	"childcase.v1.StatisticsService.GetPeriodicReport": {
		"resource": "a generated page (google.api.HttpBody), not a resource",
	},
	"childcase.v1.StatisticsService.GetStatistics": {
		"resource": "counts computed for the query, not a stored resource",
	},
	"childcase.v1.ReportService.DiscloseReporter": {
		"resource":   "answers a part of a report (its reporter), which is no resource of its own",
		"request_id": "changes nothing but the audit trail, which records each disclosure: a retry is a second disclosure, and is meant to be audited as one",
	},
	"childcase.v1.AuditService.VerifyAuditLog": {
		"resource": "answers a verification, not a resource",
	},
	"childcase.v1.AuditService.ListAuditEvents": {
		"resource": "an audit event is named by its seq in the chain (no GetAuditEvent reads one alone)",
	},
	"childcase.v1.CaseProcessService.ListCaseEvents": {
		"resource": "a case event is named by its seq in its case's timeline, within the case",
	},
	"childcase.v1.CaseProcessService.WatchEvents": {
		"resource": "a notification is named by its seq in the outbox, which after_seq resumes from",
	},
	"childcase.v1.AdminService.ResetPassword": {
		"resource": "answers a one-time link's secret and expiry: the link is no resource a client reads again",
	},
	"childcase.v1.AdminService.RotateMasterKey": {
		"resource": "answers the new key's id and a count: the key is no resource of the API",
	},
}

// readMethod says whether a method only reads: it changes nothing but
// the audit trail.
func readMethod(name string) bool {
	for _, p := range []string{"Get", "List", "Search", "Watch", "Export", "Backup", "Verify"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// TestEveryMethodKeepsTheAPIConventions walks every method of every
// service of the API and holds it to the conventions the README gives
// (Google's AIPs): a Create takes a request_id; an Update takes an etag
// (and an update_mask) and answers the resource with its etag; a List or
// a Search pages (page_size, page_token, next_page_token); every other
// state change is a custom ":verb" POST with a request_id; every
// resource a method answers (a list's items too) has a name. A method
// that is an exception on purpose is in conventionExceptions with why.
func TestEveryMethodKeepsTheAPIConventions(t *testing.T) {
	used := map[string]bool{}
	// breaks reports a broken convention unless it is a listed exception.
	breaks := func(m protoreflect.MethodDescriptor, convention, format string, args ...any) {
		full := string(m.FullName())
		if _, ok := conventionExceptions[full][convention]; ok {
			used[full+" "+convention] = true
			return
		}
		t.Errorf("%s breaks %q: %s", full, convention, fmt.Sprintf(format, args...))
	}
	methods := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			ms := f.Services().Get(i).Methods()
			for j := range ms.Len() {
				methods++
				checkConventions(t, ms.Get(j), breaks)
			}
		}
		return true
	})
	if methods < 50 {
		t.Errorf("found %d methods; the API has more than 50", methods)
	}
	for m, cs := range conventionExceptions {
		for c := range cs {
			if !used[m+" "+c] {
				t.Errorf("%s is listed as an exception to %q but keeps it (or is gone): take it off the list", m, c)
			}
		}
	}
}

func checkConventions(t *testing.T, m protoreflect.MethodDescriptor, breaks func(protoreflect.MethodDescriptor, string, string, ...any)) {
	t.Helper()
	name := string(m.Name())
	in, out := m.Input().Fields(), m.Output().Fields()
	rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		t.Errorf("%s has no REST mapping", m.FullName())
		return
	}
	has := func(fields protoreflect.FieldDescriptors, field protoreflect.Name, kind protoreflect.Kind) bool {
		fd := fields.ByName(field)
		return fd != nil && fd.Kind() == kind && !fd.IsList()
	}
	switch {
	case strings.HasPrefix(name, "Create"):
		if !has(in, "request_id", protoreflect.StringKind) {
			breaks(m, "request_id", "a Create takes a request_id")
		}
		if rule.GetPost() == "" || strings.Contains(rule.GetPost(), ":") {
			breaks(m, "verb", "a Create is a POST to its collection, not %v", rule.GetPattern())
		}
	case strings.HasPrefix(name, "Update"):
		if !has(in, "etag", protoreflect.StringKind) && !has(m.Input().Fields().ByName(inputResource(m)).Message().Fields(), "etag", protoreflect.StringKind) {
			breaks(m, "etag", "an Update takes the etag of the resource it changes")
		}
		if in.ByName("update_mask") == nil {
			breaks(m, "update_mask", "an Update takes an update_mask")
		}
		if !has(out, "etag", protoreflect.StringKind) {
			breaks(m, "etag", "an Update answers the resource with its new etag")
		}
	case strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Search"):
		if m.IsStreamingServer() {
			break
		}
		if !has(in, "page_size", protoreflect.Int32Kind) || !has(in, "page_token", protoreflect.StringKind) || !has(out, "next_page_token", protoreflect.StringKind) {
			breaks(m, "pages", "a List or a Search takes page_size and page_token and answers next_page_token")
		}
	case !readMethod(name):
		// Any other method changes state: a custom method, POST
		// .../{name}:verb, whose retry is harmless.
		if p := rule.GetPost(); p == "" || !strings.Contains(p[strings.LastIndex(p, "/")+1:], ":") {
			breaks(m, "verb", "a state change is a custom :verb POST, not %v", rule.GetPattern())
		}
		if !has(in, "request_id", protoreflect.StringKind) {
			breaks(m, "request_id", "a state change takes a request_id")
		}
	}
	if readMethod(name) && rule.GetGet() == "" && !strings.HasPrefix(name, "Verify") {
		// VerifyAuditLog reads the log and changes nothing: a POST only
		// because its noted head is a body.
		breaks(m, "verb", "a read is a GET, not %v", rule.GetPattern())
	}
	if r := answeredResource(m); r == nil || r.Fields().ByName("name") == nil {
		breaks(m, "resource", "its answer (%s) is no resource with a name", resourceName(r, m))
	}
}

// inputResource is the request's field that holds the resource an Update
// changes: its only message field named after no well-known type.
func inputResource(m protoreflect.MethodDescriptor) protoreflect.Name {
	fields := m.Input().Fields()
	for i := range fields.Len() {
		if fd := fields.Get(i); fd.Message() != nil && !strings.HasPrefix(string(fd.Message().FullName()), "google.") {
			return fd.Name()
		}
	}
	return ""
}

// answeredResource is the resource a method answers: the item of a
// list's or a search's page, the resource of a Create's response that
// wraps it with more, else the answer itself; nil for a file.
func answeredResource(m protoreflect.MethodDescriptor) protoreflect.MessageDescriptor {
	out := m.Output()
	if out.FullName() == "google.api.HttpBody" {
		return nil
	}
	if !strings.HasSuffix(string(out.Name()), "Response") {
		return out
	}
	fields := out.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() == nil || strings.HasPrefix(string(fd.Message().FullName()), "google.") {
			continue
		}
		if fd.IsList() || strings.HasPrefix(string(m.Name()), "Create") {
			if fd.Message().Name() == "CaseCandidate" {
				return fd.Message().Fields().ByName("case").Message()
			}
			return fd.Message()
		}
	}
	return nil
}

func resourceName(r protoreflect.MessageDescriptor, m protoreflect.MethodDescriptor) string {
	if r == nil {
		return string(m.Output().FullName())
	}
	return string(r.FullName())
}
