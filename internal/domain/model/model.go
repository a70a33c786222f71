// Package model holds the records of the case process (reports and cases)
// and the errors domain code returns about them. It is plain data: no I/O,
// no protobuf, no storage.
//
// Enumerations use the same numbers as the API's enums, so the transport
// converts them with a type conversion and stored records stay readable by
// later versions that add values.
package model

import (
	"strconv"
	"time"

	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Channel is how a report reached the service.
type Channel int32

// CallType is the kind of call; only CallIntervention opens a case.
type CallType int32

// CallIntervention is a report that needs intervention.
const CallIntervention CallType = 1

// Sex of a child as known at intake.
type Sex int32

// AbuseForm is a suspected form of abuse (Child Law Art. 4) or hotline category.
type AbuseForm int32

// SpecialCircumstance is a group of Child Law Art. 10.
type SpecialCircumstance int32

// CaseStatus is where a case stands in the process of Decree 56.
type CaseStatus int32

// Case statuses used by the domain.
const (
	StatusAwaitingAcknowledgement CaseStatus = 1
	StatusClosed                  CaseStatus = 7
)

// Report is one intake (form Mẫu 01).
type Report struct {
	ID                   string // public id, a UUID
	Channel              Channel
	ReceiveTime          time.Time // UTC
	IncidentUnit         units.Key // the commune in force on the receive date
	CallType             CallType
	Children             []Child
	Caregivers           []Caregiver
	FamilySituation      string
	ActionsTaken         string
	Narrative            string
	SuspectedAbuse       []AbuseForm
	SpecialCircumstances []SpecialCircumstance
	ImmediateDanger      bool
	Reporter             Reporter
	CaseNumber           string // empty while the report belongs to no case
	CreateTime           time.Time
}

// Child is a child named in a report. Exactly one of BirthDate and
// EstimatedAge is set.
type Child struct {
	FullName     string
	BirthDate    vntime.Date
	EstimatedAge *int32 // whole years
	Sex          Sex
	Location     string
	Condition    string
	ExpectedHarm string
}

// Caregiver is a parent or caregiver named in a report.
type Caregiver struct {
	FullName        string
	Relation        string
	Phone           string
	Address         string
	SuspectedAbuser bool
}

// Reporter is the person who made a report. When Anonymous is false the
// reporter consented to having the other fields recorded.
type Reporter struct {
	Anonymous       bool
	FullName        string
	Phone           string
	RelationToChild string
}

// Case is the social case opened for a child.
type Case struct {
	ID              uint64 // internal key, never shown
	Number          string // e.g. HN-2026-00123
	Status          CaseStatus
	ResponsibleUnit units.Key
	IncidentUnit    units.Key
	ReportIDs       []string // oldest first
	ReceiveTime     time.Time
	ImmediateDanger bool
	CreateTime      time.Time
	UpdateTime      time.Time
	Revision        uint64 // incremented by every change
}

// Etag is the case's entity tag, derived from its revision.
func (c Case) Etag() string { return strconv.FormatUint(c.Revision, 10) }

// IdempotencyRecord remembers the result of a request that carried a
// request_id, so a retry returns the first result.
type IdempotencyRecord struct {
	Key         string    // method and request_id
	Fingerprint []byte    // hash of the request without its request_id
	Resource    string    // the id of the resource the request produced
	CreateTime  time.Time // for expiry
}
