// Package storage defines what the domain needs from a database: reading and
// writing reports, cases and idempotency records inside transactions. It is
// an interface only; boltstore implements it and storagetest pins its
// contract. It must not hold process logic.
//
// Errors: methods return model.ErrNotFound, model.ErrAlreadyExists or
// model.ErrConflict (wrapped) as documented on each method; anything else is
// an internal failure.
package storage

import (
	"context"
	"errors"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer version of childcase.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary supports")

// ErrBadCursor is returned by list methods for a cursor the store did not
// produce.
var ErrBadCursor = errors.New("malformed list cursor")

// Store is a transactional store.
type Store interface {
	// View runs fn in a read-only transaction. Values returned by the
	// transaction stay valid after it ends.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Update runs fn in a read-write transaction and commits it durably if fn
	// returns nil; if fn returns an error nothing fn wrote is kept. Update
	// returns only after the commit is on disk.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the database.
	Close() error
}

// ReadTx reads within one consistent snapshot.
type ReadTx interface {
	// Report returns the report with that id, or model.ErrNotFound.
	Report(id string) (model.Report, error)
	// CaseByNumber returns the case with that case number, or model.ErrNotFound.
	CaseByNumber(number string) (model.Case, error)
	// ListReports returns up to q.Limit reports, newest first, and a cursor
	// for the next page ("" when there is none; a cursor never leads to an
	// empty page). A cursor it did not issue for the same filters gives
	// ErrBadCursor.
	ListReports(q ReportQuery) ([]model.Report, string, error)
	// ListCases returns up to q.Limit cases, newest first, and a cursor for
	// the next page, as ListReports. With a unit it reads only that unit's
	// cases through an index.
	ListCases(q CaseQuery) ([]model.Case, string, error)
	// Idempotency returns the record stored under key, or model.ErrNotFound.
	Idempotency(key string) (model.IdempotencyRecord, error)
}

// Tx reads and writes within one transaction.
type Tx interface {
	ReadTx
	// CreateReport stores a new report. It returns model.ErrAlreadyExists if
	// a report with that id exists.
	CreateReport(r model.Report) error
	// UpdateReport replaces a stored report. It returns model.ErrNotFound if
	// there is none with that id.
	UpdateReport(r model.Report) error
	// NextCaseSequence returns the next case sequence number of a year,
	// starting at 1.
	NextCaseSequence(year int) (uint64, error)
	// CreateCase stores a new case, assigning c.ID. It returns
	// model.ErrAlreadyExists if the case number is taken.
	CreateCase(c *model.Case) error
	// UpdateCase replaces a stored case and its index entries. It returns
	// model.ErrNotFound if the case does not exist and model.ErrConflict if
	// the stored revision is not c.Revision-1.
	UpdateCase(c model.Case) error
	// PutIdempotency stores an idempotency record. It returns
	// model.ErrAlreadyExists if the key is taken.
	PutIdempotency(r model.IdempotencyRecord) error
}

// ReportQuery selects reports.
type ReportQuery struct {
	CallType model.CallType // 0 for any
	After    string         // cursor from a previous page
	Limit    int            // must be positive
}

// CaseQuery selects cases.
type CaseQuery struct {
	ResponsibleUnit units.Key        // zero for any
	Status          model.CaseStatus // 0 for any
	After           string           // cursor from a previous page
	Limit           int              // must be positive
}
