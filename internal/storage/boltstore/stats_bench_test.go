package boltstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// BenchmarkStatisticsYear measures a city's statistics of a year, grouped
// by month and unit, over synthetic databases of 10,000 and 50,000 cases
// spread over the communes in force in 2026: the counters' cells are as
// many at both sizes (a month and a commune each), so the time is about
// the same (the README's "Statistics and reports" records a run). Each
// case has a report, an acknowledgement met or missed, and one in twenty
// an open deadline, which the counters keep by due time. Each size asks
// for the whole year (period=months) and for 15 January to 20 December
// (period=days: the months between from the monthly cells, the days at
// the ends from the daily ones, schema version 8).
//
//	GOTOOLCHAIN=go1.27.3 go test -run '^$' -bench BenchmarkStatisticsYear ./internal/storage/boltstore/
//
// CHILDCASE_STATS_CASES lists other sizes (e.g. 200000: its fill takes a
// minute or two).
func BenchmarkStatisticsYear(b *testing.B) {
	reg, err := units.Load()
	if err != nil {
		b.Fatal(err)
	}
	communes := reg.List(units.Filter{Level: units.LevelCommune, AsOf: vntime.Date{Year: 2026, Month: time.January, Day: 1}})
	city := reg.List(units.Filter{Level: units.LevelCity})[0]
	hanoi := vntime.Location()
	year := stats.Query{
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, hanoi), To: time.Date(2027, 1, 1, 0, 0, 0, 0, hanoi),
		GroupBy: []stats.Dimension{stats.ByMonth, stats.ByUnit},
	}
	officer := access.Principal{UserID: "city", Role: model.RoleCityOfficer, Unit: access.UnitName(city.Key)}
	sizes := []int{10000, 50000}
	if spec := os.Getenv("CHILDCASE_STATS_CASES"); spec != "" {
		sizes = nil
		for _, f := range strings.Split(spec, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("CHILDCASE_STATS_CASES: %q is not a list of case counts", spec)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "cc.db"), boltstore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fillSyntheticCases(b, s, n, communes)
			svc := stats.New(stats.Deps{Store: s, Units: reg, Clock: clock.NewFake(year.To)})
			days := year
			days.From, days.To = time.Date(2026, 1, 15, 0, 0, 0, 0, hanoi), time.Date(2026, 12, 21, 0, 0, 0, 0, hanoi)
			for _, p := range []struct {
				name string
				q    stats.Query
			}{{"months", year}, {"days", days}} {
				b.Run("period="+p.name, func(b *testing.B) {
					var groups int
					for b.Loop() {
						res, err := svc.Compute(context.Background(), officer, p.q)
						if err != nil {
							b.Fatal(err)
						}
						groups = len(res.Groups)
					}
					b.ReportMetric(float64(groups), "groups")
				})
			}
		})
	}
}

// fillSyntheticCases writes n cases of 2026 with their reports, five
// hundred to a transaction.
func fillSyntheticCases(b *testing.B, s *boltstore.Store, n int, communes []units.Unit) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, vntime.Location())
	for done := 0; done < n; {
		err := s.Update(context.Background(), func(tx datastore.Tx) error {
			for ; done < n; done++ {
				unit := communes[rng.IntN(len(communes))].Key
				at := start.Add(time.Duration(rng.Int64N(int64(364 * 24 * time.Hour))))
				abuse := []model.AbuseForm{model.AbuseForm(1 + rng.IntN(6))}
				children := []model.ChildSummary{{AgeYears: int32(rng.IntN(18)), Sex: model.Sex(1 + rng.IntN(2))}}
				seq, err := tx.NextCaseSequence(2026)
				if err != nil {
					return err
				}
				id := uuid.Must(uuid.NewV7()).String()
				ack := model.Deadline{ID: 1, Kind: model.DeadlineAcknowledge, Start: at, Due: at.Add(24 * time.Hour), State: model.DeadlineMet, DoneTime: at.Add(time.Hour)}
				if rng.IntN(4) == 0 {
					ack.State, ack.DoneTime, ack.MinutesLate = model.DeadlineMissed, at.Add(30*time.Hour), 360
				}
				deadlines := []model.Deadline{ack}
				if rng.IntN(20) == 0 {
					deadlines = append(deadlines, model.Deadline{ID: 2, Kind: model.DeadlinePlanDraft, Start: at, Due: at.Add(7 * 24 * time.Hour), State: model.DeadlineOpen})
				}
				c := model.Case{
					Number: fmt.Sprintf("HN-2026-%05d", seq), Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, IncidentUnit: unit,
					ReportIDs: []string{id}, Revision: 1, ReceiveTime: at, SuspectedAbuse: abuse, Children: children, Deadlines: deadlines,
				}
				if err := tx.CreateCase(&c); err != nil {
					return err
				}
				err = tx.CreateReport(model.StoredReport{
					ID: id, CallType: model.CallIntervention, Channel: model.Channel(1 + rng.IntN(5)), IncidentUnit: unit,
					ReceiveTime: at, CaseNumber: c.Number, SuspectedAbuse: abuse, Children: children,
				})
				if err != nil {
					return err
				}
				if done%500 == 499 {
					done++
					return nil
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
