package app_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// Every step of the case process takes the case's etag, and one that is
// stale is ABORTED (ETAG_MISMATCH) and changes nothing: not the case, not
// its timeline (issue 5: "every update and transition requires the
// current etag; a stale one is ABORTED and changes nothing"). The steps
// are taken from the schema, each with the access matrix's request, sent
// by a role that may take it on the case in its scope, with the etag the
// case had before a note moved it on. A new step without an etag, or one
// that does not compare it, fails here.
func TestEveryStepRefusesAStaleEtag(t *testing.T) {
	f := setupMatrix(t)
	stale := map[string]string{}
	for target, name := range f.cases {
		stale[target] = f.etag(t, target)
		if _, err := f.ts.process().AddCaseNote(f.ts.as(t, "city"), &pb.AddCaseNoteRequest{Name: name, Etag: stale[target], Text: "ghi chú mới"}); err != nil {
			t.Fatalf("note on %s: %v", target, err)
		}
	}
	steps := 0
	for _, m := range childcaseMethods(t) {
		if !takesAStep(m) {
			continue
		}
		steps++
		t.Run(string(m.Name()), func(t *testing.T) {
			etag := m.Input().Fields().ByName("etag")
			if etag == nil || etag.Kind() != protoreflect.StringKind {
				t.Fatalf("%s has no etag", m.Input().FullName())
			}
			build, rule, ok := matrixEntry(t, fullMethod(m))
			if !ok {
				return
			}
			var caller mxRole
			for _, r := range mxRoles {
				if rule.Grant(model.Role(r.role)) != access.Refused {
					caller = r
					break
				}
			}
			if caller.in == "" {
				t.Fatal("no role may take the step")
			}
			req := build(t, f, caller.in, caller.target)
			req.ProtoReflect().Set(etag, protoreflect.ValueOfString(stale[caller.target]))
			name := f.cases[caller.target]
			before := getCase(t, f.ts, "city", name)
			timeline := caseEvents(t, f.ts, "city", name)

			_, err := f.invoke(t, m, caller.in, req)
			if st := wantCode(t, err, codes.Aborted); errorReason(st) != "ETAG_MISMATCH" {
				t.Errorf("%s with a stale etag: reason %q, want ETAG_MISMATCH", caller.in, errorReason(st))
			}
			if after := getCase(t, f.ts, "city", name); !proto.Equal(after, before) {
				t.Errorf("the refused step changed the case: etag %s -> %s", before.GetEtag(), after.GetEtag())
			}
			if got := caseEvents(t, f.ts, "city", name); len(got) != len(timeline) {
				t.Errorf("the refused step changed the timeline: %v -> %v", kinds(timeline), kinds(got))
			}
		})
	}
	if steps < 30 {
		t.Errorf("only %d steps found; the schema walk is broken", steps)
	}
}

// A step refused for any reason (the case's state, a rule of the step, a
// reference that does not resolve) changes nothing either: every step of
// the schema is sent, with the current etag, by every role that may take
// it, on the case of its scope, and whenever the answer is an error the
// case and its timeline are as they were (issue 2: "nothing is written
// when a request is refused"). Steps that succeed move the case on, so
// that later steps meet other states.
func TestEveryRefusedStepChangesNothing(t *testing.T) {
	f := setupMatrix(t)
	refused := map[codes.Code]int{}
	for _, m := range childcaseMethods(t) {
		if !takesAStep(m) {
			continue
		}
		build, rule, ok := matrixEntry(t, fullMethod(m))
		if !ok {
			continue
		}
		for _, r := range mxRoles {
			if rule.Grant(model.Role(r.role)) == access.Refused {
				continue
			}
			t.Run(string(m.Name())+"/"+r.role.String(), func(t *testing.T) {
				name := f.cases[r.target]
				req := build(t, f, r.in, r.target)
				before := getCase(t, f.ts, "city", name)
				timeline := caseEvents(t, f.ts, "city", name)
				_, err := f.invoke(t, m, r.in, req)
				if err == nil {
					return
				}
				refused[status.Code(err)]++
				if after := getCase(t, f.ts, "city", name); !proto.Equal(after, before) {
					t.Errorf("refused (%v), but the case changed: etag %s -> %s", err, before.GetEtag(), after.GetEtag())
				}
				if got := caseEvents(t, f.ts, "city", name); len(got) != len(timeline) {
					t.Errorf("refused (%v), but the timeline changed: %v -> %v", err, kinds(timeline), kinds(got))
				}
			})
		}
	}
	t.Logf("refused steps by code: %v", refused)
	if refused[codes.FailedPrecondition] < 10 {
		t.Errorf("only %d steps refused for the case's state: the test proves little", refused[codes.FailedPrecondition])
	}
}
