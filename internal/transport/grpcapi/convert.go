package grpcapi

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// reportFromProto converts a validated request report. The protovalidate
// rules have checked shapes and limits; dates that the schema can only match
// as patterns are parsed here.
func reportFromProto(p *pb.Report) (model.Report, error) {
	r := model.Report{
		Channel:              model.Channel(p.GetChannel()),
		ReceiveTime:          p.GetReceiveTime().AsTime(),
		CallType:             model.CallType(p.GetCallType()),
		FamilySituation:      p.GetFamilySituation(),
		ActionsTaken:         p.GetActionsTaken(),
		Narrative:            p.GetNarrative(),
		ImmediateDanger:      p.GetImmediateDanger(),
		SuspectedAbuse:       convertEnums[model.AbuseForm](p.GetSuspectedAbuse()),
		SpecialCircumstances: convertEnums[model.SpecialCircumstance](p.GetSpecialCircumstances()),
	}
	for i, c := range p.GetChildren() {
		child := model.Child{
			FullName:     c.GetFullName(),
			Sex:          model.Sex(c.GetSex()),
			Location:     c.GetLocation(),
			Condition:    c.GetCondition(),
			ExpectedHarm: c.GetExpectedHarm(),
		}
		switch age := c.GetAge().(type) {
		case *pb.Child_BirthDate:
			d, err := vntime.ParseDate(age.BirthDate)
			if err != nil {
				return model.Report{}, model.InvalidField(indexed("report.children", i)+".birth_date", "date.valid", "%v", err)
			}
			child.BirthDate = d
		case *pb.Child_EstimatedAgeYears:
			years := age.EstimatedAgeYears
			child.EstimatedAge = &years
		}
		r.Children = append(r.Children, child)
	}
	for _, g := range p.GetCaregivers() {
		r.Caregivers = append(r.Caregivers, model.Caregiver{
			FullName:        g.GetFullName(),
			Relation:        g.GetRelation(),
			Phone:           g.GetPhone(),
			Address:         g.GetAddress(),
			SuspectedAbuser: g.GetSuspectedAbuser(),
		})
	}
	if id := p.GetReporter().GetIdentified(); id != nil {
		r.Reporter = model.Reporter{FullName: id.GetFullName(), Phone: id.GetPhone(), RelationToChild: id.GetRelationToChild()}
	} else {
		r.Reporter = model.Reporter{Anonymous: true}
	}
	return r, nil
}

func reportToProto(r model.Report) *pb.Report {
	p := &pb.Report{
		Name:                 reportName(r.ID),
		Channel:              pb.Channel(r.Channel),
		ReceiveTime:          timestamp(r.ReceiveTime),
		IncidentCommuneCode:  r.IncidentUnit.Code,
		IncidentUnit:         unitName(r.IncidentUnit),
		CallType:             pb.CallType(r.CallType),
		FamilySituation:      r.FamilySituation,
		ActionsTaken:         r.ActionsTaken,
		Narrative:            r.Narrative,
		SuspectedAbuse:       convertEnums[pb.AbuseForm](r.SuspectedAbuse),
		SpecialCircumstances: convertEnums[pb.SpecialCircumstance](r.SpecialCircumstances),
		ImmediateDanger:      r.ImmediateDanger,
		CreateTime:           timestamp(r.CreateTime),
	}
	if r.CaseNumber != "" {
		p.Case = caseName(r.CaseNumber)
	}
	for _, c := range r.Children {
		child := &pb.Child{
			FullName:     c.FullName,
			Sex:          pb.Sex(c.Sex),
			Location:     c.Location,
			Condition:    c.Condition,
			ExpectedHarm: c.ExpectedHarm,
		}
		if c.EstimatedAge != nil {
			child.Age = &pb.Child_EstimatedAgeYears{EstimatedAgeYears: *c.EstimatedAge}
		} else {
			child.Age = &pb.Child_BirthDate{BirthDate: c.BirthDate.String()}
		}
		p.Children = append(p.Children, child)
	}
	for _, g := range r.Caregivers {
		p.Caregivers = append(p.Caregivers, &pb.Caregiver{
			FullName: g.FullName, Relation: g.Relation, Phone: g.Phone, Address: g.Address, SuspectedAbuser: g.SuspectedAbuser,
		})
	}
	if r.Reporter.Anonymous {
		p.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	} else {
		p.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: r.Reporter.FullName, Phone: r.Reporter.Phone, RelationToChild: r.Reporter.RelationToChild,
		}}}
	}
	return p
}

func caseToProto(c model.Case) *pb.Case {
	p := &pb.Case{
		Name:            caseName(c.Number),
		CaseNumber:      c.Number,
		Status:          pb.CaseStatus(c.Status),
		ResponsibleUnit: unitName(c.ResponsibleUnit),
		IncidentUnit:    unitName(c.IncidentUnit),
		ReceiveTime:     timestamp(c.ReceiveTime),
		ImmediateDanger: c.ImmediateDanger,
		CreateTime:      timestamp(c.CreateTime),
		UpdateTime:      timestamp(c.UpdateTime),
		Etag:            c.Etag(),
	}
	for _, id := range c.ReportIDs {
		p.Reports = append(p.Reports, reportName(id))
	}
	return p
}

func unitToProto(u units.Unit, predecessors []units.Link) *pb.Unit {
	p := &pb.Unit{
		Name:        unitName(u.Key),
		Code:        u.Code,
		DisplayName: u.Name,
		FullName:    u.FullName(),
		Type:        u.Type,
		Level:       pb.UnitLevel(u.Level),
		ValidFrom:   u.ValidFrom.String(),
	}
	if !u.Parent.IsZero() {
		p.Parent = unitName(u.Parent)
	}
	if !u.ValidTo.IsZero() {
		p.ValidTo = u.ValidTo.String()
	}
	for _, l := range predecessors {
		p.Predecessors = append(p.Predecessors, &pb.UnitPredecessor{Unit: unitName(l.From), Full: l.Full})
	}
	return p
}

func reportName(id string) string   { return "reports/" + id }
func caseName(number string) string { return "cases/" + number }

func unitName(k units.Key) string {
	if k.IsZero() {
		return ""
	}
	return "units/" + k.String()
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func convertEnums[To, From ~int32](in []From) []To {
	if len(in) == 0 {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = To(v)
	}
	return out
}
