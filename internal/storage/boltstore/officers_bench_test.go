package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// BenchmarkOfficersPage reads the first page of 10 of one commune's
// workers among 10,000 users (500 communes of 15 workers, 4 chairs and a
// disabled worker each), the way ListAssignableOfficers did (every user
// in order of id, up to 1,000 a page, keeping the commune's active
// workers) and the way it does (users_by_unit). users/op is how many
// users a page decoded, which the machine's load does not change.
func BenchmarkOfficersPage(b *testing.B) {
	ctx := context.Background()
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "cc.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	unitOf := func(i int) string { return fmt.Sprintf("units/%05d@2025-07-01", i) }
	err = s.Update(ctx, func(tx datastore.Tx) error {
		for c := range 500 {
			for i := range 20 {
				u := model.User{ID: fmt.Sprintf("u%02d.c%03d", i, c), Role: model.RoleCommuneWorker, Unit: unitOf(c)}
				switch {
				case i >= 15 && i < 19:
					u.Role = model.RoleCommuneChair
				case i == 19:
					u.DisableTime = u.CreateTime.AddDate(2026, 0, 0)
				}
				if err := tx.CreateUser(u); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	const limit, maxScanned = 10, 1000
	unit := unitOf(250)
	b.Run("scan", func(b *testing.B) {
		decoded := 0
		for b.Loop() {
			err := s.View(ctx, func(tx datastore.ReadTx) error {
				var out []model.User
				after := ""
				for scanned := 0; len(out) < limit && scanned < maxScanned; {
					users, next, err := tx.ListUsers(after, min(limit-len(out), maxScanned-scanned))
					if err != nil {
						return err
					}
					scanned += len(users)
					decoded += len(users)
					for _, u := range users {
						if u.Unit == unit && u.Role == model.RoleCommuneWorker && !u.Disabled() {
							out = append(out, u)
						}
					}
					if next == "" {
						break
					}
					after = next
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(decoded)/float64(b.N), "users/op")
	})
	b.Run("index", func(b *testing.B) {
		decoded := 0
		for b.Loop() {
			err := s.View(ctx, func(tx datastore.ReadTx) error {
				users, _, err := tx.ListActiveUsersOf([]datastore.UnitRole{{Unit: unit, Role: model.RoleCommuneWorker}}, "", limit)
				if len(users) != limit {
					return fmt.Errorf("a page of %d users, want %d", len(users), limit)
				}
				decoded += len(users)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(decoded)/float64(b.N), "users/op")
	})
}
