package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The step forms are rendered from the request messages of the API's
// CaseProcessService, so every step the API has gets a form with the
// API's own fields, and a field added to the API shows without a change
// here: strings (a text area past 500 characters), enums as selects with
// catalog labels, repeated enums as check boxes, bools, numbers,
// timestamps in Vietnam time, "YYYY-MM-DD" dates, nested messages as
// fieldsets and repeated messages as a few rows. A field that names a
// part of the case by its id (a deadline) is a choice among the case's
// own, by what they are. The form holds no rule: the API validates what
// is posted and the page shows its answer.

// stepFields are the fields every step request has; the form fills them
// in itself (the case, the etag it was rendered from, a retry's id).
var stepFields = map[protoreflect.Name]bool{"name": true, "etag": true, "request_id": true}

// checkedFields are the fields the console fills from a check of what the
// person typed beside them: a merge's absorbed case is shown to the
// person before the merge, and its etag is that of the version shown
// (mergeCheck).
var checkedFields = map[protoreflect.Name]bool{"absorbed_etag": true}

// stepCodes are the step fields whose values are codes the API documents
// rather than an enum (the process's own constants): each is a choice
// among its codes, labelled from the catalogs ("code.VALUE"), as the case
// page shows them.
var stepCodes = map[protoreflect.FullName][]string{
	"childcase.v1.RecordReviewRequest.outcome":        {process.ReviewNewPlanCycle, process.ReviewProposeClosure},
	"childcase.v1.RecordServiceProgressRequest.state": {process.ServiceInProgress, process.ServiceCompleted, process.ServiceCancelled},
	"childcase.v1.EndSeparationRequest.outcome":       {process.SeparationReturnedHome, process.SeparationAlternativeCare},
	"childcase.v1.RecordCourtDecisionRequest.outcome": {process.SeparationReturnedHome, process.SeparationAlternativeCare},
	"childcase.v1.RecordPoliceOutcomeRequest.outcome": {process.PoliceProsecuted, process.PoliceNotProsecuted, process.PoliceSuspended},
}

// repeatedRows is how many rows a repeated message (a plan's services, a
// meeting's participants) gets; empty rows are not sent.
const repeatedRows = 3

// textareaFrom is the max_len from which a string gets a text area.
const textareaFrom = 500

// caseSteps are the methods of CaseProcessService that take a step on one
// case: those whose request names the case and carries its etag, and
// which answer with the case.
func caseSteps() []protoreflect.MethodDescriptor {
	svc := pb.File_childcase_v1_process_service_proto.Services().ByName("CaseProcessService")
	var out []protoreflect.MethodDescriptor
	for i := range svc.Methods().Len() {
		m := svc.Methods().Get(i)
		in := m.Input().Fields()
		if m.Output().FullName() == "childcase.v1.Case" && in.ByName("name") != nil && in.ByName("etag") != nil && in.ByName("request_id") != nil {
			out = append(out, m)
		}
	}
	return out
}

// stepMethod returns the step of a name, as in the route (the method's
// name, "AcknowledgeCase").
func stepMethod(name string) (protoreflect.MethodDescriptor, bool) {
	for _, m := range caseSteps() {
		if string(m.Name()) == name {
			return m, true
		}
	}
	return nil, false
}

// formField is one line of a step form. Fieldsets are flattened into
// "begin" and "end" lines so that one template renders any depth.
type formField struct {
	Kind     string // text, textarea, select, checks, checkbox, number, date, datetime, begin, end
	Name     string // the form name, the API's field path ("services[0].name")
	ID       string // the element id, unique in the page
	Key      string // the catalog key of its label
	Row      int    // a repeated message's row, from 1 (0: not a row)
	Value    string
	Checked  map[string]bool // checks: the values checked
	Options  []formOption
	Required bool
	Error    string // the API's word on it, or the console's when it cannot be read
}

// formOption is a choice of a select: its value, and the catalog key of
// its text, or the text itself (Label) for a part of the case.
type formOption struct{ Value, Key, Label string }

// fieldChoices are the choices of the fields that name a part of the case
// by its id, by field path: a person knows a deadline by its kind, unit
// and due time, never by the number the API takes.
type fieldChoices map[string][]formOption

// stepField is the key of a field's choices for one step's form only
// (stepField("PauseDeadline", "deadline_id")), which the form takes
// instead of the field's choices for every form.
func stepField(step, field string) string { return step + ":" + field }

// of returns the choices of step's form: the field's own for that step
// where it has them.
func (fc fieldChoices) of(step string) fieldChoices {
	out := fieldChoices{}
	for k, v := range fc {
		if s, field, ok := strings.Cut(k, ":"); !ok {
			if _, own := out[k]; !own {
				out[k] = v
			}
		} else if s == step {
			out[field] = v
		}
	}
	return out
}

// buildFields returns the form lines of a request message, with the
// values typed (vals, nil for a fresh form), the errors by field path and
// the choices of the fields that name a part of the case.
func buildFields(formID string, md protoreflect.MessageDescriptor, prefix string, vals url.Values, errs map[string]string, choices fieldChoices) []formField {
	var out []formField
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if prefix == "" && (stepFields[fd.Name()] || checkedFields[fd.Name()]) {
			continue
		}
		name := prefix + string(fd.Name())
		f := formField{Name: name, ID: formID + "-" + idSafe(name), Key: "field." + string(fd.Name()), Required: required(fd), Error: errs[name]}
		if opts, ok := choices[name]; ok && !fd.IsList() {
			f.Kind, f.Options, f.Value = "select", opts, vals.Get(name)
			out = append(out, f)
			continue
		}
		if codes, ok := stepCodes[fd.FullName()]; ok {
			f.Kind, f.Value = "select", vals.Get(name)
			for _, code := range codes {
				f.Options = append(f.Options, formOption{Value: code, Key: "code." + code})
			}
			out = append(out, f)
			continue
		}
		switch {
		case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "google.protobuf.Timestamp" && !fd.IsList():
			f.Kind, f.Value = "datetime", vals.Get(name)
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			for row := range repeatedRows {
				p := name + "[" + strconv.Itoa(row) + "]"
				out = append(out, formField{Kind: "begin", Key: f.Key, Row: row + 1, Error: errs[p]})
				out = append(out, buildFields(formID, fd.Message(), p+".", vals, errs, choices)...)
				out = append(out, formField{Kind: "end"})
			}
			continue
		case fd.Kind() == protoreflect.MessageKind:
			sub := fd.Message()
			// A message of one repeated enum (a set of groups) is its
			// check boxes under the message's name.
			if sub.Fields().Len() == 1 && sub.Fields().Get(0).IsList() && sub.Fields().Get(0).Kind() == protoreflect.EnumKind {
				inner := sub.Fields().Get(0)
				f.Kind, f.Name = "checks", name+"."+string(inner.Name())
				f.Options, f.Checked = enumOptions(inner.Enum()), map[string]bool{}
				for _, v := range vals[f.Name] {
					f.Checked[v] = true
				}
				f.Error = errs[f.Name] + errs[name]
				break
			}
			out = append(out, formField{Kind: "begin", Key: f.Key, Error: errs[name]})
			out = append(out, buildFields(formID, sub, name+".", vals, errs, choices)...)
			out = append(out, formField{Kind: "end"})
			continue
		case fd.Kind() == protoreflect.EnumKind && fd.IsList():
			f.Kind, f.Options, f.Checked = "checks", enumOptions(fd.Enum()), map[string]bool{}
			for _, v := range vals[name] {
				f.Checked[v] = true
			}
		case fd.Kind() == protoreflect.EnumKind:
			f.Kind, f.Options, f.Value = "select", enumOptions(fd.Enum()), vals.Get(name)
		case fd.Kind() == protoreflect.BoolKind:
			f.Kind, f.Value = "checkbox", vals.Get(name)
		case fd.Kind() == protoreflect.StringKind && fd.IsList():
			f.Kind, f.Value = "textarea", vals.Get(name)
		case fd.Kind() == protoreflect.StringKind && strings.HasSuffix(name, "_date"):
			f.Kind, f.Value = "date", vals.Get(name)
		case fd.Kind() == protoreflect.StringKind && maxLen(fd) > textareaFrom:
			f.Kind, f.Value = "textarea", vals.Get(name)
		case fd.Kind() == protoreflect.StringKind:
			f.Kind, f.Value = "text", vals.Get(name)
		default:
			f.Kind, f.Value = "number", vals.Get(name)
		}
		out = append(out, f)
	}
	return out
}

// enumOptions are an enum's values but the unset one, labelled from the
// catalogs ("enum.RISK_LEVEL_LOW").
func enumOptions(ed protoreflect.EnumDescriptor) []formOption {
	var out []formOption
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		if v.Number() == 0 {
			continue
		}
		out = append(out, formOption{Value: string(v.Name()), Key: "enum." + string(v.Name())})
	}
	return out
}

func required(fd protoreflect.FieldDescriptor) bool {
	bs, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	for _, b := range bs {
		if b == annotations.FieldBehavior_REQUIRED {
			return true
		}
	}
	return false
}

func maxLen(fd protoreflect.FieldDescriptor) uint64 {
	r, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	return r.GetString().GetMaxLen()
}

func idSafe(s string) string {
	return strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(s)
}

// formErrors are what the console could not read from a form, by field
// path, as catalog keys.
type formErrors map[string]string

// newStepRequest returns an empty request of a step.
func newStepRequest(m protoreflect.MethodDescriptor) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
	if err != nil {
		return nil, err
	}
	return mt.New().Interface(), nil
}

// fillRequest sets a request's fields from a posted form. It reads only
// what a form can say wrongly by itself (a number that is no number, a
// time that is no time, an unknown choice); every rule of the step is the
// API's.
func fillRequest(msg protoreflect.Message, prefix string, vals url.Values, errs formErrors) (set bool) {
	md := msg.Descriptor()
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if prefix == "" && (stepFields[fd.Name()] || checkedFields[fd.Name()]) {
			continue
		}
		name := prefix + string(fd.Name())
		v := strings.TrimSpace(vals.Get(name))
		switch {
		case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "google.protobuf.Timestamp" && !fd.IsList():
			if v == "" {
				continue
			}
			t, err := time.ParseInLocation("2006-01-02T15:04", v, vntime.Location())
			if err != nil {
				errs[name] = "form.bad.datetime"
				continue
			}
			msg.Set(fd, protoreflect.ValueOfMessage(timestamppb.New(t).ProtoReflect()))
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			list := msg.Mutable(fd).List()
			for row := range repeatedRows {
				el := list.NewElement()
				if fillRequest(el.Message(), name+"["+strconv.Itoa(row)+"].", vals, errs) {
					list.Append(el)
				}
			}
			if list.Len() == 0 {
				msg.Clear(fd)
				continue
			}
		case fd.Kind() == protoreflect.MessageKind:
			sub := msg.NewField(fd).Message()
			if fillRequest(sub, name+".", vals, errs) {
				msg.Set(fd, protoreflect.ValueOfMessage(sub))
			} else {
				continue
			}
		case fd.Kind() == protoreflect.EnumKind && fd.IsList():
			if len(vals[name]) == 0 {
				continue
			}
			list := msg.Mutable(fd).List()
			for _, s := range vals[name] {
				ev := fd.Enum().Values().ByName(protoreflect.Name(s))
				if ev == nil {
					errs[name] = "form.bad.choice"
					continue
				}
				list.Append(protoreflect.ValueOfEnum(ev.Number()))
			}
		case fd.Kind() == protoreflect.EnumKind:
			if v == "" {
				continue
			}
			ev := fd.Enum().Values().ByName(protoreflect.Name(v))
			if ev == nil {
				errs[name] = "form.bad.choice"
				continue
			}
			msg.Set(fd, protoreflect.ValueOfEnum(ev.Number()))
		case fd.Kind() == protoreflect.BoolKind:
			if v == "" {
				continue
			}
			msg.Set(fd, protoreflect.ValueOfBool(true))
		case fd.Kind() == protoreflect.StringKind && fd.IsList():
			list := msg.Mutable(fd).List()
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					list.Append(protoreflect.ValueOfString(line))
				}
			}
			if list.Len() == 0 {
				msg.Clear(fd)
				continue
			}
		case fd.Kind() == protoreflect.StringKind:
			if v == "" {
				continue
			}
			msg.Set(fd, protoreflect.ValueOfString(v))
		default:
			if v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs[name] = "form.bad.number"
				continue
			}
			switch fd.Kind() {
			case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
				if n != int64(int32(n)) {
					errs[name] = "form.bad.number"
					continue
				}
				msg.Set(fd, protoreflect.ValueOfInt32(int32(n)))
			case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
				msg.Set(fd, protoreflect.ValueOfInt64(n))
			default:
				errs[name] = "form.bad.number"
				continue
			}
		}
		set = true
	}
	return set
}
