package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

var idempotencyTests = []namedTest{
	{"RoundTrip", testIdempotencyRoundTrip},
	{"DuplicateKey", testIdempotencyDuplicateKey},
	{"NotFound", testIdempotencyNotFound},
	{"DeleteBefore", testIdempotencyDeleteBefore},
	{"DeleteBeforeLimit", testIdempotencyDeleteBeforeLimit},
	{"DeleteBeforeSameInstant", testIdempotencyDeleteBeforeSameInstant},
	{"DeleteBeforeRollback", testIdempotencyDeleteBeforeRollback},
	{"DeleteBeforeThenReuse", testIdempotencyDeleteBeforeThenReuse},
	{"DeleteBeforeOutOfRangeTimes", testIdempotencyDeleteBeforeOutOfRange},
}

func sampleIdempotency(key string) model.IdempotencyRecord {
	return model.IdempotencyRecord{
		Key:         key,
		Fingerprint: []byte{0x00, 0x01, 0xfe, 0xff, 'a', 0x00},
		Resource:    "0190c4a2-7d3e-7c4b-8a5e-0123456789ab",
		CreateTime:  baseTime,
	}
}

func getIdempotency(t *testing.T, s datastore.Store, key string) (model.IdempotencyRecord, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (model.IdempotencyRecord, error) { return tx.Idempotency(key) })
}

func testIdempotencyRoundTrip(t *testing.T, s datastore.Store) {
	recs := []model.IdempotencyRecord{
		sampleIdempotency("CreateReport/5f0e6a8c-6d0b-4c51-9a55-2f1f3c1c0b11"),
		sampleIdempotency("CreateReport/5f0e6a8c-6d0b-4c51-9a55-2f1f3c1c0b1"), // a prefix of the first
		{Key: "AcknowledgeCase/ký tự", Fingerprint: []byte("x"), Resource: "HN-2026-00001", CreateTime: baseTime.Add(time.Minute)},
	}
	update(t, s, func(tx datastore.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		got, err := tx.Idempotency(recs[0].Key)
		if err != nil {
			t.Errorf("Idempotency in the writing transaction: %v", err)
		} else if d := sameIdempotency(got, recs[0]); d != "" {
			t.Errorf("Idempotency in the writing transaction differs: %s", d)
		}
		return nil
	})
	for _, want := range recs {
		got, err := getIdempotency(t, s, want.Key)
		if err != nil {
			t.Errorf("Idempotency(%q): %v", want.Key, err)
			continue
		}
		if d := sameIdempotency(got, want); d != "" {
			t.Errorf("Idempotency(%q) differs: %s", want.Key, d)
		}
	}
}

func testIdempotencyDuplicateKey(t *testing.T, s datastore.Store) {
	first := sampleIdempotency("CreateReport/abc")
	update(t, s, func(tx datastore.Tx) error { return tx.PutIdempotency(first) })

	second := first
	second.Fingerprint = []byte("another request")
	second.Resource = "another resource"
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "PutIdempotency with a taken key", tx.PutIdempotency(second), model.ErrAlreadyExists)
		return nil // commit whatever the failed call may have written
	})
	got, err := getIdempotency(t, s, first.Key)
	if err != nil {
		t.Fatalf("Idempotency: %v", err)
	}
	if d := sameIdempotency(got, first); d != "" {
		t.Errorf("a refused PutIdempotency changed the record: %s", d)
	}
}

func testIdempotencyNotFound(t *testing.T, s datastore.Store) {
	update(t, s, func(tx datastore.Tx) error { return tx.PutIdempotency(sampleIdempotency("CreateReport/abc")) })
	for _, key := range []string{"CreateReport/abd", "CreateReport/ab", "CreateReport/abcd", "createreport/abc", ""} {
		_, err := getIdempotency(t, s, key)
		wantErr(t, fmt.Sprintf("Idempotency(%q)", key), err, model.ErrNotFound)
	}
}

var transactionTests = []namedTest{
	{"RollbackLeavesNothing", testRollbackLeavesNothing},
	{"RollbackKeepsUpdatedRecords", testRollbackKeepsUpdatedRecords},
	{"RollbackIdentitiesAndKeys", testRollbackIdentitiesAndKeys},
	{"ViewSeesOnlyCommitted", testViewSeesOnlyCommitted},
	{"ViewIsASnapshot", testViewIsASnapshot},
	{"CancelledContext", testCancelledContext},
	{"ValuesOutliveTransaction", testValuesOutliveTransaction},
}

var errBoom = errors.New("boom")

func testRollbackLeavesNothing(t *testing.T, s datastore.Store) {
	r := fullReport(newID(t))
	c := sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement)
	idem := sampleIdempotency("CreateReport/abc")
	var ran bool
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		ran = true
		if err := tx.CreateReport(r); err != nil {
			return err
		}
		if n, err := tx.NextCaseSequence(2026); err != nil || n != 1 {
			return fmt.Errorf("NextCaseSequence = %d, %v; want 1", n, err)
		}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		if err := tx.PutIdempotency(idem); err != nil {
			return err
		}
		// Visible inside the transaction.
		if got := listCaseNumbersTx(tx, unitA); !slices.Equal(got, []string{c.Number}) {
			return fmt.Errorf("inside the transaction, ListCases(unit A) = %v", got)
		}
		return errBoom
	})
	if !ran {
		t.Fatal("Update did not run fn")
	}
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}

	view(t, s, func(tx datastore.ReadTx) error {
		if _, err := tx.Report(r.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("after rollback, Report error = %v, want ErrNotFound", err)
		}
		if _, err := tx.CaseByNumber(c.Number); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("after rollback, CaseByNumber error = %v, want ErrNotFound", err)
		}
		if _, err := tx.Idempotency(idem.Key); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("after rollback, Idempotency error = %v, want ErrNotFound", err)
		}
		return nil
	})
	for _, ct := range []model.CallType{0, r.CallType} {
		if got := listReportIDs(t, s, ct); len(got) != 0 {
			t.Errorf("after rollback, ListReports(call type %d) = %v, want none", ct, got)
		}
	}
	checkCaseLists(t, s, map[caseFilter][]string{
		{units.Key{}, 0}:        nil,
		{unitA, 0}:              nil,
		{units.Key{}, c.Status}: nil,
		{unitA, c.Status}:       nil,
	})

	// The case number, the sequence, the report id and the key are free.
	if n := nextSeq(t, s, 2026); n != 1 {
		t.Errorf("after rollback, NextCaseSequence(2026) = %d, want 1", n)
	}
	c2 := sampleCase(c.Number, unitB, model.StatusClosed)
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateReport(r); err != nil {
			return fmt.Errorf("CreateReport of the rolled-back id: %w", err)
		}
		if err := tx.CreateCase(&c2); err != nil {
			return fmt.Errorf("CreateCase of the rolled-back number: %w", err)
		}
		return tx.PutIdempotency(idem)
	})
	checkCaseLists(t, s, map[caseFilter][]string{
		{unitA, 0}: nil,
		{unitB, 0}: {c.Number},
	})
}

func listCaseNumbersTx(tx datastore.ReadTx, unit units.Key) []string {
	cs, _, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unit, Limit: 100})
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return caseNumbers(cs)
}

// testRollbackKeepsUpdatedRecords rolls back updates of existing records:
// the records and their index entries stay as they were.
func testRollbackKeepsUpdatedRecords(t *testing.T, s datastore.Store) {
	r := fullReport(newID(t))
	createReports(t, s, r)
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]

	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		r2 := r
		r2.CallType = callOther
		r2.Private = model.Sealed{KeyID: "rolled back", Data: []byte("rolled back")}
		if err := tx.UpdateReport(r2); err != nil {
			return err
		}
		c2 := c
		c2.Revision++
		c2.ResponsibleUnit = unitB
		c2.Status = model.StatusClosed
		if err := tx.UpdateCase(c2); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}
	if d := sameReport(mustReport(t, s, r.ID), r); d != "" {
		t.Errorf("rolled-back UpdateReport changed the report: %s", d)
	}
	if d := sameCase(mustCase(t, s, c.Number), c); d != "" {
		t.Errorf("rolled-back UpdateCase changed the case: %s", d)
	}
	if got := listReportIDs(t, s, r.CallType); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("ListReports(call type %d) = %v, want [%s]", r.CallType, got, r.ID)
	}
	if got := listReportIDs(t, s, callOther); len(got) != 0 {
		t.Errorf("ListReports(call type %d) = %v, want none", callOther, got)
	}
	checkCaseLists(t, s, map[caseFilter][]string{
		{unitA, 0}:                        {c.Number},
		{unitB, 0}:                        nil,
		{units.Key{}, c.Status}:           {c.Number},
		{units.Key{}, model.StatusClosed}: nil,
	})
}

// testRollbackIdentitiesAndKeys rolls back the creation of users, tokens,
// police units and data keys, and the update of existing ones: nothing of
// it is kept, in the records or in the token index.
func testRollbackIdentitiesAndKeys(t *testing.T, s datastore.Store) {
	user := sampleUser("lan.nguyen")
	tok := sampleToken("tok1", user.ID)
	key := sampleWrapped("master-old", 1)
	createUsers(t, s, user)
	createTokens(t, s, tok)
	putDataKeys(t, s, datastore.DataKey{ID: "k1", Wrapped: key})

	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if err := tx.CreateUser(sampleUser("minh.tran")); err != nil {
			return err
		}
		if err := tx.CreateToken(sampleToken("tok2", "minh.tran")); err != nil {
			return err
		}
		if err := tx.CreateToken(sampleToken("tok0", user.ID)); err != nil {
			return err
		}
		if err := tx.CreatePoliceUnit(samplePoliceUnit("ca-ha-noi")); err != nil {
			return err
		}
		if err := tx.PutDataKey("k2", sampleWrapped("master-old", 2)); err != nil {
			return err
		}
		if err := tx.PutDataKey("k1", sampleWrapped("master-new", 3)); err != nil {
			return err
		}
		u := user
		u.DisableTime = baseTime
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		revoked := tok
		revoked.RevokeTime = baseTime
		if err := tx.UpdateToken(revoked); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}

	if got, err := getUser(t, s, user.ID); err != nil || sameUser(got, user) != "" {
		t.Errorf("after rollback, User(%s) = %+v, %v; want it unchanged", user.ID, got, err)
	}
	_, err = getUser(t, s, "minh.tran")
	wantErr(t, "after rollback, User(minh.tran)", err, model.ErrNotFound)
	if n := countUsers(t, s); n != 1 {
		t.Errorf("after rollback, CountUsers = %d, want 1", n)
	}
	if d := sameToken(mustToken(t, s, tok.ID), tok); d != "" {
		t.Errorf("after rollback, token differs: %s", d)
	}
	for _, id := range []string{"tok0", "tok2"} {
		_, err := getToken(t, s, id)
		wantErr(t, "after rollback, Token("+id+")", err, model.ErrNotFound)
	}
	if got := tokensOfUser(t, s, user.ID); !slices.Equal(got, []string{tok.ID}) {
		t.Errorf("after rollback, TokensOfUser(%s) = %v, want [%s]", user.ID, got, tok.ID)
	}
	if got := tokensOfUser(t, s, "minh.tran"); len(got) != 0 {
		t.Errorf("after rollback, TokensOfUser(minh.tran) = %v, want none", got)
	}
	_, err = getPoliceUnit(t, s, "ca-ha-noi")
	wantErr(t, "after rollback, PoliceUnit", err, model.ErrNotFound)
	if got, err := getDataKey(t, s, "k1"); err != nil || !sameWrapped(got, key) {
		t.Errorf("after rollback, DataKey(k1) = %+v, %v; want %+v", got, err, key)
	}
	_, err = getDataKey(t, s, "k2")
	wantErr(t, "after rollback, DataKey(k2)", err, model.ErrNotFound)
}

// waitBriefly waits for ch to close, for at most a second, and reports
// whether it closed.
func waitBriefly(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(time.Second):
		return false
	}
}

// testViewSeesOnlyCommitted reads while a write transaction has written but
// not committed. A store that serialises readers behind the writer passes if
// the read, once it runs, sees the committed report.
func testViewSeesOnlyCommitted(t *testing.T, s datastore.Store) {
	r := fullReport(newID(t))
	written := make(chan struct{})
	release := make(chan struct{})
	updated := make(chan error, 1)
	var writtenOnce sync.Once
	go func() {
		updated <- s.Update(context.Background(), func(tx datastore.Tx) error {
			if err := tx.CreateReport(r); err != nil {
				return err
			}
			writtenOnce.Do(func() { close(written) }) // a store may run the body again
			<-release
			return nil
		})
	}()
	select {
	case <-written:
	case err := <-updated:
		t.Fatalf("Update ended before writing: %v", err)
	}

	viewed := make(chan struct{})
	var viewErr error
	var listed []string
	var committed bool
	go func() {
		defer close(viewed)
		viewErr = s.View(context.Background(), func(tx datastore.ReadTx) error {
			_, err := tx.Report(r.ID)
			rs, _, lerr := tx.ListReports(datastore.ReportQuery{Limit: 10})
			if lerr != nil {
				return lerr
			}
			listed = reportIDs(rs)
			switch {
			case err == nil:
				committed = true
			case !errors.Is(err, model.ErrNotFound):
				return err
			}
			return nil
		})
	}()
	viewedEarly := waitBriefly(viewed)
	close(release)
	if err := <-updated; err != nil {
		t.Fatalf("Update: %v", err)
	}
	<-viewed
	if viewErr != nil {
		t.Fatalf("View: %v", viewErr)
	}
	if viewedEarly {
		if committed || len(listed) != 0 {
			t.Errorf("a View during an open write saw uncommitted data: Report found %v, ListReports = %v", committed, listed)
		}
	} else {
		t.Log("View waited for the writer to commit")
		if !committed || !slices.Equal(listed, []string{r.ID}) {
			t.Errorf("a View after the commit did not see it: Report found %v, ListReports = %v", committed, listed)
		}
	}
	if d := sameReport(mustReport(t, s, r.ID), r); d != "" {
		t.Errorf("committed report differs: %s", d)
	}
}

// testViewIsASnapshot commits a write while a View is open: the View keeps
// seeing the state it started with. If the store makes the writer wait for
// the reader, the check is skipped rather than deadlocking.
func testViewIsASnapshot(t *testing.T, s datastore.Store) {
	// Make room first: a large record, then shrunk. A store on a memory-mapped
	// file (bbolt) must remap, and so wait for open readers, only when a
	// commit grows the file; the space freed here spares the commit below.
	old := minimalReport(newID(t), callOther)
	old.Private.Data = bytes.Repeat([]byte("x"), 512<<10)
	createReports(t, s, old)
	old.Private.Data = []byte("short")
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(old) })
	r := fullReport(newID(t))

	committed := make(chan struct{})
	var updateErr error
	var checked bool
	view(t, s, func(tx datastore.ReadTx) error {
		if _, err := tx.Report(r.ID); !errors.Is(err, model.ErrNotFound) {
			return fmt.Errorf("before the write, Report error = %v, want ErrNotFound", err)
		}
		go func() {
			defer close(committed)
			updateErr = s.Update(context.Background(), func(tx datastore.Tx) error {
				return tx.CreateReport(r)
			})
		}()
		if !waitBriefly(committed) {
			t.Log("the writer waits for open readers; snapshot not checked")
			return nil
		}
		checked = true
		if _, err := tx.Report(r.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("an open View saw a later commit: Report error = %v, want ErrNotFound", err)
		}
		rs, _, err := tx.ListReports(datastore.ReportQuery{Limit: 10})
		if err != nil {
			return err
		}
		if got := reportIDs(rs); !slices.Equal(got, []string{old.ID}) {
			t.Errorf("an open View saw a later commit: ListReports = %v, want [%s]", got, old.ID)
		}
		return nil
	})
	<-committed
	if updateErr != nil {
		t.Fatalf("Update: %v", updateErr)
	}
	if got := listReportIDs(t, s, 0); !slices.Equal(got, []string{r.ID, old.ID}) {
		t.Errorf("after both ended, ListReports = %v, want [%s %s]", got, r.ID, old.ID)
	}
	if !checked {
		t.Log("snapshot isolation was not exercised")
	}
}

func testCancelledContext(t *testing.T, s datastore.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := fullReport(newID(t))

	ran := false
	err := s.Update(ctx, func(tx datastore.Tx) error {
		ran = true
		return tx.CreateReport(r)
	})
	if err == nil || ran {
		t.Errorf("Update with a cancelled context = %v, fn ran: %v; want an error and fn not run", err, ran)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context: error = %v, want errors.Is(err, context.Canceled)", err)
	}
	if _, err := getReport(t, s, r.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Update with a cancelled context stored the report: Report error = %v", err)
	}

	ran = false
	err = s.View(ctx, func(datastore.ReadTx) error {
		ran = true
		return nil
	})
	if err == nil || ran {
		t.Errorf("View with a cancelled context = %v, fn ran: %v; want an error and fn not run", err, ran)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context: error = %v, want errors.Is(err, context.Canceled)", err)
	}

	// The store still works with a live context.
	createReports(t, s, r)
	mustReport(t, s, r.ID)
}

// testValuesOutliveTransaction reads records, then grows the store a lot
// (which makes a memory-mapped store remap its file) and checks that the
// values read earlier are intact.
func testValuesOutliveTransaction(t *testing.T, s datastore.Store) {
	r := fullReport(newID(t))
	c := sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement)
	idem := sampleIdempotency("CreateReport/abc")
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateReport(r); err != nil {
			return err
		}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		return tx.PutIdempotency(idem)
	})

	var gotR model.StoredReport
	var gotC model.Case
	var gotI model.IdempotencyRecord
	var listed []model.StoredReport
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		if gotR, err = tx.Report(r.ID); err != nil {
			return err
		}
		if gotC, err = tx.CaseByNumber(c.Number); err != nil {
			return err
		}
		if gotI, err = tx.Idempotency(idem.Key); err != nil {
			return err
		}
		listed, _, err = tx.ListReports(datastore.ReportQuery{Limit: 10})
		return err
	})

	// Overwrite and grow: about 2 MB in several transactions.
	big := bytes.Repeat([]byte("x"), 32<<10)
	ids := newIDs(t, 64)
	for i := 0; i < len(ids); i += 8 {
		update(t, s, func(tx datastore.Tx) error {
			for _, id := range ids[i : i+8] {
				b := minimalReport(id, callOther)
				b.Private.Data = big
				if err := tx.CreateReport(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	r2 := r
	r2.Private.Data = bytes.Repeat([]byte("y"), len(r.Private.Data))
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(r2) })

	if d := sameReport(gotR, r); d != "" {
		t.Errorf("report read earlier changed: %s", d)
	}
	if d := sameCase(gotC, c); d != "" {
		t.Errorf("case read earlier changed: %s", d)
	}
	if d := sameIdempotency(gotI, idem); d != "" {
		t.Errorf("idempotency record read earlier changed: %s", d)
	}
	if len(listed) != 1 {
		t.Fatalf("listed %d reports, want 1", len(listed))
	}
	if d := sameReport(listed[0], r); d != "" {
		t.Errorf("listed report read earlier changed: %s", d)
	}
}
