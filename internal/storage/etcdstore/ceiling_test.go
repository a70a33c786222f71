package etcdstore_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// A walk forwards through one prefix costs the member that prefix's keys
// only once its cursor has a ceiling: etcd counts every key of a Range up
// to its end, past its limit too, so a Seek without one costs the member
// every key after the cursor (on the 400-case benchmark, a search's seek
// of a token counted about 10,000 keys of the other tokens, and 64
// clients' reports made the member count 46 million keys per 64
// reports). Below the ceiling the walk reads as without one, the
// transaction's own writes among them; at or above it, it reads nil.
func TestCursorCeilingBoundsReadsForwards(t *testing.T) {
	e, err := etcdstore.NewEngine(newClient(t, startEtcd(t)), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	putPrefixed(t, e, map[string]int{"a": 5, "b": 10, "c": 300})
	// walk takes the keys of prefix b from its first, as the layout
	// does, and the cursor's Last and its Seek of c; with write, the
	// transaction first writes b010 and c999.
	type walked struct {
		keys        []string
		last, seekC string
		scanned     int64
	}
	walk := func(ceiling []byte, write bool) walked {
		t.Helper()
		var w walked
		start := e.Stats().Scanned
		err := e.Update(t.Context(), func(tx kv.Tx) error {
			w = walked{}
			b := tx.Bucket(bucketName)
			if write {
				for _, k := range []string{"b010", "c999"} {
					if err := b.Put([]byte(k), []byte("new")); err != nil {
						return err
					}
				}
			}
			cur := b.Cursor()
			kv.SetCeiling(cur, ceiling)
			for k, _ := cur.Seek([]byte("b")); k != nil && bytes.HasPrefix(k, []byte("b")); k, _ = cur.Next() {
				w.keys = append(w.keys, string(k))
			}
			k, _ := cur.Last()
			w.last = string(k)
			k, _ = cur.Seek([]byte("c"))
			w.seekC = string(k)
			return errRollback
		})
		if err != errRollback {
			t.Fatal(err)
		}
		w.scanned = e.Stats().Scanned - start
		return w
	}
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("b%03d", i))
	}
	got := walk(nil, false)
	if !slices.Equal(got.keys, want) || got.last != "c299" || got.seekC != "c000" {
		t.Fatalf("without a ceiling the walk took %q, Last %q, Seek(c) %q; want %q, c299, c000", got.keys, got.last, got.seekC, want)
	}
	if got.scanned < 300 {
		t.Fatalf("without a ceiling the member counted %d keys, not the 300 of c: this test would not see a ceiling work", got.scanned)
	}
	got = walk([]byte("c"), false)
	if !slices.Equal(got.keys, want) || got.last != "b009" || got.seekC != "" {
		t.Errorf("with the ceiling c the walk took %q, Last %q, Seek(c) %q; want %q, b009 and none", got.keys, got.last, got.seekC, want)
	}
	// The bucket's markers and the guard in the snapshot's first read,
	// b's 10 keys read by the Seek and again by the Last.
	if got.scanned > 40 {
		t.Errorf("with the ceiling c the member counted %d keys, more than b's and the markers (40)", got.scanned)
	}
	got = walk([]byte("c"), true)
	if want := append(want, "b010"); !slices.Equal(got.keys, want) || got.last != "b010" || got.seekC != "" {
		t.Errorf("with the ceiling c and b010, c999 written in the transaction the walk took %q, Last %q, Seek(c) %q; want %q, b010 and none",
			got.keys, got.last, got.seekC, want)
	}
}

// putPrefixed creates bucketName with, for each prefix p of counts,
// counts[p] keys p000, p001, ... of value v.
func putPrefixed(t *testing.T, e *etcdstore.Engine, counts map[string]int) {
	t.Helper()
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		for p, n := range counts {
			for i := range n {
				if err := b.Put(fmt.Appendf(nil, "%s%03d", p, i), []byte("v")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// searchToken is the search token tok%05d of i (as long as a token is).
func searchToken(i int) []byte { return fmt.Appendf(nil, "tok%05d", i) }

// createIndexedCase creates the case numbered HN-2026-(i+1), awaiting
// acknowledgement, and its search entry under tokens.
func createIndexedCase(tx datastore.Tx, i int, tokens [][]byte) (model.Case, error) {
	c := model.Case{Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusAwaitingAcknowledgement, Revision: 1,
		CreateTime: time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)}
	if err := tx.CreateCase(&c); err != nil {
		return c, err
	}
	return c, tx.PutSearchEntry(datastore.SearchEntry{CaseID: c.ID, KeyID: "m1", Tokens: tokens})
}

// indexCases creates n cases with createIndexedCase, case i under the
// tokens under(i) names, and returns their ids.
func indexCases(t *testing.T, s datastore.Store, n int, under func(i int) [][]byte) []uint64 {
	t.Helper()
	var ids []uint64
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		ids = ids[:0]
		for i := range n {
			c, err := createIndexedCase(tx, i, under(i))
			if err != nil {
				return err
			}
			ids = append(ids, c.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// The layout's walks through a prefix of a larger bucket (a search
// token's postings, a case's events) cost the member that prefix's keys,
// not every key after them: the 400-case benchmark's searches counted
// about 10,000 keys of other tokens per seek before the walks told their
// cursors a ceiling. Searched with and without a Prefetch first, as a
// search does and as a read it did not name does.
func TestLayoutWalksCountTheirPrefixOnly(t *testing.T) {
	e, s := layoutOnEtcd(t)
	const cases, others, events = 30, 40, 20
	var ids []uint64
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		ids = ids[:0]
		for i := range cases {
			// Token 0 holds the first 5 cases; the others, after it,
			// every case.
			var under [][]byte
			if i < 5 {
				under = append(under, searchToken(0))
			}
			for j := 1; j <= others; j++ {
				under = append(under, searchToken(j))
			}
			c, err := createIndexedCase(tx, i, under)
			if err != nil {
				return err
			}
			ids = append(ids, c.ID)
			// The first case has 3 events, the others, after it, 20.
			for range map[bool]int{true: 3, false: events}[i == 0] {
				if _, err := tx.AppendCaseEvents(c.ID, model.CaseEvent{Kind: "A"}); err != nil {
					return err
				}
			}
			// Audit events, whose indexes follow the index of users'
			// tokens in the index bucket.
			for range events {
				if _, err := tx.AppendAudit(audit.Event{Time: c.CreateTime, Actor: "u1", Action: "case.get", Resource: "cases/" + c.Number, Outcome: audit.OutcomeOK}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// counted runs read in a transaction of its own, after its first
	// read, and returns the keys the member counted for it.
	counted := func(what string, read func(tx datastore.Tx) (any, error), want string) int64 {
		t.Helper()
		var scanned int64
		err := s.Update(t.Context(), func(tx datastore.Tx) error {
			if _, err := tx.CaseByID(ids[0]); err != nil { // takes the snapshot
				return err
			}
			start := e.Stats().Scanned
			got, err := read(tx)
			if err != nil {
				return err
			}
			scanned = e.Stats().Scanned - start
			if fmt.Sprint(got) != want {
				t.Errorf("%s = %v, want %s", what, got, want)
			}
			return errRollback
		})
		if err != errRollback {
			t.Fatal(err)
		}
		return scanned
	}
	first5 := fmt.Sprint([]uint64{ids[4], ids[3], ids[2], ids[1], ids[0]})
	for _, prefetch := range []bool{false, true} {
		newest := func(tx datastore.Tx) (any, error) {
			if prefetch {
				tx.Prefetch(datastore.Prefetch{Tokens: [][]byte{searchToken(0)}, TokenLimit: 10})
			}
			return tx.CasesWithToken(searchToken(0), 10)
		}
		among := func(tx datastore.Tx) (any, error) {
			if prefetch {
				tx.Prefetch(datastore.Prefetch{AmongTokens: [][]byte{searchToken(0)}, AmongCaseIDs: ids})
			}
			return tx.CasesWithTokenAmong(searchToken(0), ids)
		}
		// Token 0's 5 postings (the seek past its last, its walk back)
		// and the buckets' markers; the other tokens hold 1,200 after
		// them.
		if n := counted("CasesWithToken", newest, first5); n > 40 {
			t.Errorf("prefetch %v: CasesWithToken of a token of 5 cases made the member count %d keys, more than 40", prefetch, n)
		}
		if n := counted("CasesWithTokenAmong", among, fmt.Sprint(ids[:5])); n > 40 {
			t.Errorf("prefetch %v: CasesWithTokenAmong of a token of 5 cases made the member count %d keys, more than 40", prefetch, n)
		}
	}
	// The first case's 3 events; the other cases hold 580 after them.
	newestEvents := func(tx datastore.Tx) (any, error) {
		evs, err := tx.CaseEventsNewestFirst(ids[0], 0, 10)
		return len(evs), err
	}
	if n := counted("CaseEventsNewestFirst", newestEvents, "3"); n > 40 {
		t.Errorf("the newest events of a case of 3 made the member count %d keys, more than 40", n)
	}
	// No token of the user; the indexes of the audit events by actor and
	// by time hold 1,200 entries after the tokens' index.
	tokens := func(tx datastore.Tx) (any, error) {
		toks, err := tx.TokensOfUser("u1")
		return len(toks), err
	}
	if n := counted("TokensOfUser", tokens, "0"); n > 40 {
		t.Errorf("the tokens of a user without any made the member count %d keys, more than 40", n)
	}
	appended := func(tx datastore.Tx) (any, error) {
		evs, err := tx.AppendCaseEvents(ids[0], model.CaseEvent{Kind: "B"})
		if err != nil || len(evs) != 1 {
			return evs, err
		}
		return evs[0].Seq, nil
	}
	if n := counted("AppendCaseEvents", appended, "4"); n > 40 {
		t.Errorf("appending an event to a case of 3 made the member count %d keys, more than 40", n)
	}
}
