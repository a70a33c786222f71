package grpcapi

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/search"
)

type reportServer struct {
	pb.UnimplementedReportServiceServer
	pages  *pageTokens
	intake *intake.Service
	log    *slog.Logger
}

func (s *reportServer) CreateReport(ctx context.Context, req *pb.CreateReportRequest) (*pb.Report, error) {
	r, err := reportFromProto(req.GetReport())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	in := intake.CreateReportInput{
		Report:              r,
		IncidentCommuneCode: req.GetReport().GetIncidentCommuneCode(),
		CaseName:            req.GetReport().GetCase(),
		RequestID:           req.GetRequestId(),
	}
	if in.RequestID != "" {
		// Only a request_id is remembered with its fingerprint: without
		// one, the copies and walks of the report a fingerprint takes were
		// a twentieth of what a report allocated, for nothing.
		in.Fingerprint, in.EarlierFingerprint = fingerprints(&pb.CreateReportRequest{Report: req.GetReport()})
	}
	if req.GetValidateOnly() {
		found, err := s.intake.ValidateReport(ctx, principalFrom(ctx), in)
		if err != nil {
			return nil, toStatus(ctx, s.log, err)
		}
		return checkedReport(req.GetReport(), found), nil
	}
	out, found, err := s.intake.CreateReportWithCandidates(ctx, principalFrom(ctx), in)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := reportToProto(out)
	resp.Candidates = reportCandidates(found)
	return resp, nil
}

// checkedReport is the answer of a report checked (validate_only): what
// the create would answer, less what only storing gives (a name, a case,
// a create time), as a receipt has it; the reporter withheld unless
// anonymous, as the create answers. The OpenAPI document, one schema for
// every Report, marks the fields a report needs as required, and a client
// generated from it refuses an answer without them.
func checkedReport(r *pb.Report, found []search.Candidate) *pb.Report {
	reporter := &pb.Reporter{Identity: &pb.Reporter_Withheld{Withheld: true}}
	if r.GetReporter().GetAnonymous() {
		reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	}
	return &pb.Report{
		Channel:             r.GetChannel(),
		ReceiveTime:         r.GetReceiveTime(),
		IncidentCommuneCode: r.GetIncidentCommuneCode(),
		CallType:            r.GetCallType(),
		Reporter:            reporter,
		Candidates:          reportCandidates(found),
	}
}

// reportCandidates names the cases a new report may be about.
func reportCandidates(found []search.Candidate) []*pb.ReportCandidate {
	var out []*pb.ReportCandidate
	for _, c := range found {
		out = append(out, &pb.ReportCandidate{Case: "cases/" + c.Case.Number, Score: c.Score, MatchedFields: matchedFieldNames(c.Matched)})
	}
	return out
}

func (s *reportServer) GetReport(ctx context.Context, req *pb.GetReportRequest) (*pb.Report, error) {
	r, err := s.intake.GetReport(ctx, principalFrom(ctx), req.GetName())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return reportToProto(r), nil
}

func (s *reportServer) ListReports(ctx context.Context, req *pb.ListReportsRequest) (*pb.ListReportsResponse, error) {
	p := principalFrom(ctx)
	filters := []string{strconv.Itoa(int(req.GetCallType()))}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	reports, next, err := s.intake.ListReports(ctx, p, intake.ReportQuery{
		CallType: callTypes.toModel(req.GetCallType()),
		After:    cursor,
		Limit:    pageSize(req.GetPageSize(), 50, 500),
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListReportsResponse{NextPageToken: s.pages.encode(ctx, next, filters...)}
	for _, r := range reports {
		resp.Reports = append(resp.Reports, reportToProto(r))
	}
	return resp, nil
}

func (s *reportServer) LinkReport(ctx context.Context, req *pb.LinkReportRequest) (*pb.Report, error) {
	r, err := s.intake.LinkReport(ctx, principalFrom(ctx), intake.LinkReportInput{
		Report: req.GetName(), Case: req.GetCase(), Etag: req.GetEtag(),
		RequestID: req.GetRequestId(), Fingerprint: fingerprintWithoutID(req),
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return reportToProto(r), nil
}

func (s *reportServer) DiscloseReporter(ctx context.Context, req *pb.DiscloseReporterRequest) (*pb.Reporter, error) {
	rep, err := s.intake.DiscloseReporter(ctx, principalFrom(ctx), req.GetName(), req.GetReason())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return reporterToProto(rep), nil
}

// fingerprintWithoutID is the fingerprint of a request that has a
// request_id field, with that field cleared.
func fingerprintWithoutID(req proto.Message) []byte {
	withoutID, m := storedForm(req)
	e164Phones(m)
	return fingerprint(withoutID)
}

// fingerprintBeforeE164 is fingerprintWithoutID as versions before a
// retry's phones were read in E.164 took it, of the phones as sent, or nil when it
// is the same: a request one of them remembered answers its retry sent
// alike, the first answer, not REQUEST_ID_REUSED.
func fingerprintBeforeE164(req proto.Message) []byte {
	_, before := fingerprints(req)
	return before
}

// fingerprints are fingerprintWithoutID and fingerprintBeforeE164 of req,
// taken of one copy of it.
func fingerprints(req proto.Message) (now, before []byte) {
	withoutID, m := storedForm(req)
	before = fingerprint(withoutID)
	e164Phones(m)
	now = fingerprint(withoutID)
	if slices.Equal(before, now) {
		return now, nil
	}
	return now, before
}

// storedForm is a copy of req as the service stores it, for a fingerprint,
// but for its phones: without its request_id and output-only fields, its
// case names canonical, its strings trimmed. m is the copy's reflection.
func storedForm(req proto.Message) (withoutID proto.Message, m protoreflect.Message) {
	withoutID = proto.Clone(req)
	m = withoutID.ProtoReflect()
	m.Clear(m.Descriptor().Fields().ByName("request_id"))
	clearOutputOnly(m)
	canonicalCaseNames(m)
	trimStrings(m)
	return withoutID, m
}

// phoneMessages are the messages whose phone intake reads as a number in
// any spelling (intake.normalizePhones); a user's work phone is not.
var phoneMessages = []protoreflect.FullName{
	(&pb.Caregiver{}).ProtoReflect().Descriptor().FullName(),
	(&pb.IdentifiedReporter{}).ProtoReflect().Descriptor().FullName(),
}

// e164Phones puts the phones of a report in m in E.164, the form the index
// reads them in, before it is fingerprinted: a retry that types the number
// otherwise ("0912.345.678" for "0912 345 678", full-width digits) names
// the same number, so it is the same request, and gets the first answer. A phone that is no number
// is left as it is (intake refuses it).
func e164Phones(m protoreflect.Message) {
	eachMessage(m, func(m protoreflect.Message) {
		if !slices.Contains(phoneMessages, m.Descriptor().FullName()) {
			return
		}
		fd := m.Descriptor().Fields().ByName("phone")
		if n, ok := search.PhoneNumber(m.Get(fd).String()); ok {
			m.Set(fd, protoreflect.ValueOfString(n))
		}
	})
}

// clearOutputOnly clears the fields of m, and of the messages in it, that
// the schema marks OUTPUT_ONLY, before it is fingerprinted: the service
// ignores them in a request (AIP-203), so a retry that differs from its
// first try only there (a client sending back a resource as it read it,
// or leaving out on the retry what it sent the first time) is the same
// request. The fingerprint was taken with them, and such a retry was
// REQUEST_ID_REUSED.
func clearOutputOnly(m protoreflect.Message) {
	eachMessage(m, func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if OutputOnly(fd) {
				m.Clear(fd)
			}
			return true
		})
	})
}

// OutputOnly says whether the schema marks fd OUTPUT_ONLY: the service
// sets it in an answer and ignores it in a request (AIP-203).
func OutputOnly(fd protoreflect.FieldDescriptor) bool {
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY)
}

// trimStrings trims the surrounding white space of every string of m,
// and of the messages in it, before it is fingerprinted: the service
// stores free text trimmed (intake.NormalizeText, the identity service's
// names), as it is composed in NFC before the handler (composeStrings),
// so a retry whose text differs only in surrounding spaces stores the
// same thing and is the same request. The fingerprint was taken of the
// text as sent, and such a retry was REQUEST_ID_REUSED. A string the
// service does not trim is a name, code or id whose pattern refuses
// surrounding spaces, or an etag, which a retry sending " 1" for "1"
// means as the same.
func trimStrings(m protoreflect.Message) {
	mapStrings(m, func(_ protoreflect.FieldDescriptor, s string) string { return strings.TrimSpace(s) })
}

// caseNameFields are the fields of a request that name a case when they
// hold a case name: a step's or a merge's case, a link's, the case a
// report joins (in the request's report).
var caseNameFields = []protoreflect.Name{"name", "absorbed_case", "case"}

// canonicalCaseNames puts the case names of a request (and of its report)
// in their one form before it is fingerprinted: a number may be typed in
// lower case, with spaces or without "cases/" (intake.ParseCaseName), and
// a retry that types it otherwise names the same case, so it is the same
// request. A name that is no case name is left as it is.
func canonicalCaseNames(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for _, name := range caseNameFields {
		fd := fields.ByName(name)
		if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
			continue
		}
		if number, err := intake.ParseCaseName(m.Get(fd).String()); err == nil {
			m.Set(fd, protoreflect.ValueOfString(caseName(number)))
		}
	}
	if fd := fields.ByName("report"); fd != nil && fd.Message() != nil && !fd.IsList() && m.Has(fd) {
		canonicalCaseNames(m.Mutable(fd).Message())
	}
}

// fingerprint hashes the request without its request_id (withoutID is the
// request with that field left out), so that a retry matches its first try
// and a reused id with a different request does not.
func fingerprint(withoutID proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(withoutID)
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}
