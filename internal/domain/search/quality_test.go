package search

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// indexCorpus stores a case per child of the corpus, indexed from the
// report that named it, and returns the service and the case ids in the
// corpus's order.
func indexCorpus(t testing.TB, corpus []corpusChild) (*Service, datastore.Store, []uint64) {
	t.Helper()
	reg := testRegistry(t)
	master := newMaster(t)
	store := memstore.New()
	s := New(Deps{Store: store, Units: reg, Vault: vault.New(keys.NewKeyring(master))})
	received := time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)
	ids := make([]uint64, len(corpus))
	err := store.Update(context.Background(), func(tx datastore.Tx) error {
		for i, c := range corpus {
			commune, err := units.ParseKey(c.Commune)
			if err != nil {
				return err
			}
			birth, err := vntime.ParseDate(c.BirthDate)
			if err != nil {
				return err
			}
			r := model.Report{
				ReceiveTime: received, IncidentUnit: commune,
				Children:   []model.Child{{FullName: c.Name, BirthDate: birth, Sex: model.SexUnknown}},
				Caregivers: []model.Caregiver{{FullName: c.Caregiver, Phone: c.Phone}},
				Reporter:   model.Reporter{Anonymous: true},
			}
			cs := model.Case{Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: commune,
				Handlers: []units.Key{commune}, Revision: 1}
			if err := tx.CreateCase(&cs); err != nil {
				return err
			}
			ids[i] = cs.ID
			if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: cs.ID, KeyID: EntryKeyID(master), Tokens: Tokens(master.IndexKey(), reg, r)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, store, ids
}

// variant is one kind of second call: the query it makes of a child.
type variant struct {
	name  string
	goal  float64 // least recall@5
	query func(c corpusChild) Query
}

var variants = []variant{
	{"no diacritics", 0.95, func(c corpusChild) Query { return Query{ChildName: c.NoDiacritics, Commune: mustKey(c.Commune)} }},
	{"swapped order", 0.95, func(c corpusChild) Query { return Query{ChildName: c.Swapped, Commune: mustKey(c.Commune)} }},
	{"one typo", 0.8, func(c corpusChild) Query { return Query{ChildName: c.Typo, Commune: mustKey(c.Commune)} }},
	{"phone format", 0.95, func(c corpusChild) Query { return Query{Phone: c.PhoneFormat} }},
	{"estimated age", 0.95, func(c corpusChild) Query {
		age := c.EstimatedAge
		return Query{ChildName: c.EstimatedName, EstimatedAge: &age, Day: vntime.Date{Year: 2026, Month: time.April, Day: 2}}
	}},
}

func mustKey(s string) units.Key {
	k, err := units.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// measure returns recall@5 (the share of queries whose child is among
// the first five candidates) and precision@5 (the share of the
// candidates shown, at most five a query, that are the child).
func measure(t *testing.T, s *Service, store datastore.Store, corpus []corpusChild, ids []uint64, v variant) (recall, precision float64) {
	t.Helper()
	found, shown := 0, 0
	err := store.View(context.Background(), func(tx datastore.ReadTx) error {
		for i, c := range corpus {
			hits, _, _, err := s.rank(tx, v.query(c), firstPostings, 5)
			if err != nil {
				return err
			}
			hits = hits[:min(5, len(hits))]
			shown += len(hits)
			for _, h := range hits {
				if h.id == ids[i] {
					found++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if shown == 0 {
		return 0, 0
	}
	return float64(found) / float64(len(corpus)), float64(found) / float64(shown)
}

// TestSearchQuality measures the search on the corpus, variant by
// variant, and fails below the goals of issue 12, or when the README's
// table (one row a variant, in this order) quotes other figures or goals
// than these (go test -v -run TestSearchQuality logs them).
func TestSearchQuality(t *testing.T) {
	corpus := loadCorpus(t)
	s, store, ids := indexCorpus(t, corpus)
	rows := readmeQualityRows(t)
	if len(rows) != len(variants) {
		t.Errorf("the README's quality table has %d rows, want one for each of the %d variants", len(rows), len(variants))
	}
	for i, v := range variants {
		recall, precision := measure(t, s, store, corpus, ids, v)
		t.Logf("| %s | %d | %.3f | %.3f |", v.name, len(corpus), recall, precision)
		if recall < v.goal {
			t.Errorf("%s: recall@5 = %.3f, want at least %.2f", v.name, recall, v.goal)
		}
		if i >= len(rows) {
			continue
		}
		want := []string{strconv.Itoa(len(corpus)), fmt.Sprintf("%.3f (≥ %v)", recall, v.goal), fmt.Sprintf("%.3f", precision)}
		if got := rows[i][1:]; !slices.Equal(got, want) {
			t.Errorf("the README's row %q reads %q, the search measures %q", rows[i][0], got, want)
		}
	}
}

// readmeQualityRows returns the cells of the rows of the README's table of
// the search's quality ("Finding the child").
func readmeQualityRows(t *testing.T) [][]string {
	t.Helper()
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n| variant | queries | recall@5 (goal) | precision@5 |\n|---|---|---|---|\n")
	if !ok {
		t.Fatal("README.md has no table of the search's quality")
	}
	var rows [][]string
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		var cells []string
		for c := range strings.SplitSeq(strings.Trim(strings.TrimSpace(line), "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}
