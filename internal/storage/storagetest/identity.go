package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/storekey"
)

var userTests = []namedTest{
	{"RoundTrip", testUserRoundTrip},
	{"DuplicateID", testUserDuplicateID},
	{"NotFound", testUserNotFound},
	{"Update", testUserUpdate},
	{"UpdateMissing", testUserUpdateMissing},
	{"Count", testUserCount},
	{"ListPaging", testUserListPaging},
	{"ListBadCursor", testUserListBadCursor},
	{"ActiveUsersOfPaging", testActiveUsersOfPaging},
	{"ActiveUsersOfFollowChanges", testActiveUsersOfFollowChanges},
	{"ActiveUsersOfBadCursor", testActiveUsersOfBadCursor},
}

var tokenTests = []namedTest{
	{"RoundTrip", testTokenRoundTrip},
	{"DuplicateID", testTokenDuplicateID},
	{"MissingUser", testTokenMissingUser},
	{"NotFound", testTokenNotFound},
	{"Update", testTokenUpdate},
	{"UpdateMissing", testTokenUpdateMissing},
	{"Delete", testTokenDelete},
	{"UserCannotChange", testTokenUserCannotChange},
	{"TokensOfUser", testTokensOfUser},
	{"TokensOfUserPage", testTokensOfUserPage},
	{"TokensOfUserPageSkipsBounded", testTokensOfUserPageSkipsBounded},
}

var policeUnitTests = []namedTest{
	{"RoundTrip", testPoliceUnitRoundTrip},
	{"DuplicateID", testPoliceUnitDuplicateID},
	{"NotFound", testPoliceUnitNotFound},
	{"List", testPoliceUnitList},
	{"ListPage", testPoliceUnitListPage},
}

// ---------------------------------------------------------------------------
// Users

func sampleUser(id string) model.User {
	return model.User{
		ID:          id,
		DisplayName: "Nguyễn Thị Lan " + id,
		Role:        model.RoleCommuneWorker,
		Unit:        "units/" + unitA.String(),
		Phone:       "+84 24 3825 0000",
		CreateTime:  baseTime,
	}
}

func sameUser(got, want model.User) string {
	diffs := timeDiffs(
		timePair{"CreateTime", &got.CreateTime, want.CreateTime},
		timePair{"DisableTime", &got.DisableTime, want.DisableTime},
		timePair{"SignIn.LockedUntil", &got.SignIn.LockedUntil, want.SignIn.LockedUntil},
	)
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(diffs, "; ")
}

func createUsers(t *testing.T, s datastore.Store, us ...model.User) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, u := range us {
			if err := tx.CreateUser(u); err != nil {
				return fmt.Errorf("CreateUser(%s): %w", u.ID, err)
			}
		}
		return nil
	})
}

func getUser(t *testing.T, s datastore.Store, id string) (model.User, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (model.User, error) { return tx.User(id) })
}

func countUsers(t *testing.T, s datastore.Store) int {
	t.Helper()
	var n int
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		n, err = tx.CountUsers()
		return err
	})
	return n
}

func userIDs(us []model.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

func testUserRoundTrip(t *testing.T, s datastore.Store) {
	active := sampleUser("lan.nguyen")
	disabled := model.User{
		ID:          "system.rotation",
		DisplayName: "Key rotation <job> & \"quotes\"",
		Role:        model.RoleAdmin,
		Unit:        model.OrgSystem,
		CreateTime:  baseTime.Add(time.Minute),
		DisableTime: baseTime.Add(time.Hour + 7),
	}
	update(t, s, func(tx datastore.Tx) error {
		for _, u := range []model.User{active, disabled} {
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		got, err := tx.User(active.ID)
		if err != nil {
			t.Errorf("User in the creating transaction: %v", err)
		} else if d := sameUser(got, active); d != "" {
			t.Errorf("User in the creating transaction differs: %s", d)
		}
		return nil
	})
	for _, want := range []model.User{active, disabled} {
		got, err := getUser(t, s, want.ID)
		if err != nil {
			t.Fatalf("User(%s): %v", want.ID, err)
		}
		if d := sameUser(got, want); d != "" {
			t.Errorf("User(%s) differs: %s", want.ID, d)
		}
		if got.Disabled() != want.Disabled() || got.Role != want.Role {
			t.Errorf("User(%s): Disabled %v, role %v; want %v, %v", want.ID, got.Disabled(), got.Role, want.Disabled(), want.Role)
		}
	}
}

func testUserDuplicateID(t *testing.T, s datastore.Store) {
	first := sampleUser("lan.nguyen")
	createUsers(t, s, first)
	second := sampleUser(first.ID)
	second.Role = model.RoleAdmin
	second.DisplayName = "impostor"
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "CreateUser with a taken id", tx.CreateUser(second), model.ErrAlreadyExists)
		return nil // commit whatever the failed call may have written
	})
	got, err := getUser(t, s, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameUser(got, first); d != "" {
		t.Errorf("a refused CreateUser changed the user: %s", d)
	}
	if n := countUsers(t, s); n != 1 {
		t.Errorf("CountUsers = %d, want 1", n)
	}
}

func testUserNotFound(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	for _, id := range []string{"lan", "lan.nguyen ", "Lan.Nguyen", "lan.nguyen.2", ""} {
		_, err := getUser(t, s, id)
		wantErr(t, fmt.Sprintf("User(%q)", id), err, model.ErrNotFound)
	}
}

func testUserUpdate(t *testing.T, s datastore.Store) {
	u, other := sampleUser("lan.nguyen"), sampleUser("minh.tran")
	createUsers(t, s, u, other)
	u.Role = model.RoleDistrictOfficer
	u.Unit = "units/" + unitB.String()
	u.Phone = ""
	u.DisableTime = baseTime.Add(24 * time.Hour)
	u.SignIn = model.SignIn{
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		TOTP:         model.Sealed{KeyID: "users/totp", Data: []byte{1, 2, 3}},
		TOTPLastStep: 59_000_000, Failures: 3, LockedUntil: baseTime.Add(15 * time.Minute),
	}
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateUser(u) })
	for _, want := range []model.User{u, other} {
		got, err := getUser(t, s, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameUser(got, want); d != "" {
			t.Errorf("User(%s) after UpdateUser differs: %s", want.ID, d)
		}
	}
	if n := countUsers(t, s); n != 2 {
		t.Errorf("CountUsers after UpdateUser = %d, want 2", n)
	}
}

func testUserUpdateMissing(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	ghost := sampleUser("ghost")
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "UpdateUser of a missing user", tx.UpdateUser(ghost), model.ErrNotFound)
		return nil
	})
	_, err := getUser(t, s, ghost.ID)
	wantErr(t, "User after a refused UpdateUser", err, model.ErrNotFound)
	if n := countUsers(t, s); n != 1 {
		t.Errorf("CountUsers = %d, want 1", n)
	}
}

func testUserCount(t *testing.T, s datastore.Store) {
	if n := countUsers(t, s); n != 0 {
		t.Errorf("CountUsers on an empty store = %d, want 0", n)
	}
	disabled := sampleUser("b.disabled")
	disabled.DisableTime = baseTime
	createUsers(t, s, sampleUser("a"), disabled)
	if n := countUsers(t, s); n != 2 {
		t.Errorf("CountUsers = %d, want 2 (disabled users count)", n)
	}
	// A transaction counts its own writes; a rollback forgets them.
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		if err := tx.CreateUser(sampleUser("c")); err != nil {
			return err
		}
		if n, err := tx.CountUsers(); err != nil || n != 3 {
			t.Errorf("CountUsers in the creating transaction = %d, %v; want 3", n, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want errBoom", err)
	}
	if n := countUsers(t, s); n != 2 {
		t.Errorf("CountUsers after a rollback = %d, want 2", n)
	}
}

// userIDsUnsorted are ids stored out of order, with prefixes of one another
// and bytes above ASCII, so the list order must be byte order of the id.
var userIDsUnsorted = []string{
	"minh.tran", "lan.nguyen", "a", "lan", "lan.nguyen2", "Zed", "đức.phạm", "b", "lan.", "0", "ab",
}

func testUserListPaging(t *testing.T, s datastore.Store) {
	view(t, s, func(tx datastore.ReadTx) error {
		us, next, err := tx.ListUsers("", 10)
		if err != nil || len(us) != 0 || next != "" {
			t.Errorf("ListUsers on an empty store = %v, %q, %v; want none, \"\", nil", us, next, err)
		}
		return nil
	})
	// Some in one transaction, the rest one by one.
	for i, id := range userIDsUnsorted {
		if i < 4 {
			continue
		}
		createUsers(t, s, sampleUser(id))
	}
	var first []model.User
	for _, id := range userIDsUnsorted[:4] {
		first = append(first, sampleUser(id))
	}
	createUsers(t, s, first...)

	want := slices.Sorted(slices.Values(userIDsUnsorted))
	for _, limit := range append(pageSizes, len(want)) {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
				page, next, err := tx.ListUsers(after, limit)
				return userIDs(page), next, err
			})
			checkWalk(t, got, want)
		})
	}
	// Listed users are whole.
	view(t, s, func(tx datastore.ReadTx) error {
		us, _, err := tx.ListUsers("", 1)
		if err != nil {
			return err
		}
		if len(us) != 1 {
			return fmt.Errorf("ListUsers(limit 1) returned %d users", len(us))
		}
		if d := sameUser(us[0], sampleUser(want[0])); d != "" {
			t.Errorf("listed user differs: %s", d)
		}
		return nil
	})
	// A user created behind the cursor is not listed; one ahead is.
	var cursor string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		_, cursor, err = tx.ListUsers("", 3) // 0, Zed, a
		return err
	})
	createUsers(t, s, sampleUser("1"), sampleUser("zz"))
	view(t, s, func(tx datastore.ReadTx) error {
		us, next, err := tx.ListUsers(cursor, 100)
		if err != nil {
			return err
		}
		wantRest := slices.Sorted(slices.Values(append(slices.Clone(want[3:]), "zz")))
		if !slices.Equal(userIDs(us), wantRest) || next != "" {
			t.Errorf("ListUsers after a cursor = %v, %q; want %v, \"\"", userIDs(us), next, wantRest)
		}
		return nil
	})
}

func testUserListBadCursor(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("a"), sampleUser("b"))
	for _, cur := range []string{"zz", "not a cursor", "0", "a"} {
		view(t, s, func(tx datastore.ReadTx) error {
			us, next, err := tx.ListUsers(cur, 5)
			if !errors.Is(err, model.ErrBadCursor) {
				t.Errorf("ListUsers(after %q) = %v, %q, %v; want ErrBadCursor", cur, userIDs(us), next, err)
			}
			return nil
		})
	}
	view(t, s, func(tx datastore.ReadTx) error {
		for _, limit := range []int{0, -1} {
			if _, _, err := tx.ListUsers("", limit); err == nil {
				t.Errorf("ListUsers(limit %d) succeeded", limit)
			}
		}
		return nil
	})
}

// activeOf are the groups ListActiveUsersOf is asked for in these tests:
// the workers of unit A and the social work centre's supervisors (as the
// officers of a case the city holds are its officers and those).
var activeOf = []datastore.UnitRole{
	{Unit: "units/" + unitA.String(), Role: model.RoleCommuneWorker},
	{Unit: model.OrgSocialWorkCentre, Role: model.RoleHotlineSupervisor},
}

// userOf is sampleUser of another unit and role.
func userOf(id, unit string, role model.Role) model.User {
	u := sampleUser(id)
	u.Unit, u.Role = unit, role
	return u
}

// activeUsersOf reads one page of ListActiveUsersOf(activeOf).
func activeUsersOf(t *testing.T, s datastore.Store, after string, limit int) (ids []string, next string) {
	t.Helper()
	view(t, s, func(tx datastore.ReadTx) error {
		us, n, err := tx.ListActiveUsersOf(activeOf, after, limit)
		ids, next = userIDs(us), n
		return err
	})
	return ids, next
}

// testActiveUsersOfPaging: the active users of the groups asked for,
// among users of other units, of other roles and disabled ones, come in
// order of id across the groups, each once, in full pages (short only on
// the last, with no cursor after it).
func testActiveUsersOfPaging(t *testing.T, s datastore.Store) {
	if ids, next := activeUsersOf(t, s, "", 10); len(ids) != 0 || next != "" {
		t.Errorf("on an empty store: %v, %q; want none and no cursor", ids, next)
	}
	unitAName, unitBName := "units/"+unitA.String(), "units/"+unitB.String()
	var all []model.User
	var want []string
	for i, id := range userIDsUnsorted {
		u := userOf(id, unitAName, model.RoleCommuneWorker)
		if i%3 == 1 {
			u = userOf(id, model.OrgSocialWorkCentre, model.RoleHotlineSupervisor)
		}
		all = append(all, u)
		want = append(want, id)
		all = append(all,
			userOf(id+"-b", unitBName, model.RoleCommuneWorker),
			userOf(id+"-chair", unitAName, model.RoleCommuneChair),
			userOf(id+"-op", model.OrgSocialWorkCentre, model.RoleHotlineOperator))
		gone := userOf(id+"-gone", unitAName, model.RoleCommuneWorker)
		gone.DisableTime = baseTime
		all = append(all, gone)
	}
	createUsers(t, s, all[:20]...)
	for _, u := range all[20:] {
		createUsers(t, s, u)
	}
	slices.Sort(want)
	for _, limit := range append(pageSizes, len(want)) {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			after := ""
			for page := 0; page <= len(want); page++ {
				ids, next := activeUsersOf(t, s, after, limit)
				got = append(got, ids...)
				if next == "" {
					break
				}
				if len(ids) != limit {
					t.Errorf("page %d of %d users has a next page: %v", page, limit, ids)
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("every page: %v, want %v", got, want)
			}
		})
	}
	// The users listed are whole records.
	view(t, s, func(tx datastore.ReadTx) error {
		us, _, err := tx.ListActiveUsersOf(activeOf, "", 1)
		if err != nil || len(us) != 1 {
			return fmt.Errorf("one user: %v, %v", userIDs(us), err)
		}
		if d := sameUser(us[0], sampleUser(want[0])); d != "" {
			t.Errorf("listed user differs: %s", d)
		}
		return nil
	})
	// A cursor of ListUsers goes on from the same user.
	var cursor string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		_, cursor, err = tx.ListUsers("", 1) // "0"
		return err
	})
	if ids, _ := activeUsersOf(t, s, cursor, 100); !slices.Equal(ids, want[1:]) {
		t.Errorf("after ListUsers' cursor of its first user: %v, want %v", ids, want[1:])
	}
	// No group, or a group no one is in, lists no one.
	view(t, s, func(tx datastore.ReadTx) error {
		for _, of := range [][]datastore.UnitRole{nil, {{Unit: "units/nowhere", Role: model.RoleCommuneWorker}}, {{Unit: unitAName, Role: model.RoleCityOfficer}}} {
			if us, next, err := tx.ListActiveUsersOf(of, "", 10); err != nil || len(us) != 0 || next != "" {
				t.Errorf("ListActiveUsersOf(%v) = %v, %q, %v; want no one", of, userIDs(us), next, err)
			}
		}
		return nil
	})
}

// testActiveUsersOfFollowChanges: a user is listed from its creation
// while active and of a group asked for, and no longer once disabled,
// given another role or moved to another unit, in the transaction that
// changes it and in every one after; a change rolled back changes
// nothing.
func testActiveUsersOfFollowChanges(t *testing.T, s datastore.Store) {
	unitAName := "units/" + unitA.String()
	change := func(fn func(*model.User)) func(datastore.Tx) error {
		return func(tx datastore.Tx) error {
			u, err := tx.User("lan")
			if err != nil {
				return err
			}
			fn(&u)
			return tx.UpdateUser(u)
		}
	}
	listedIn := func(tx datastore.ReadTx) bool {
		us, _, err := tx.ListActiveUsersOf(activeOf, "", 10)
		if err != nil {
			t.Fatalf("ListActiveUsersOf: %v", err)
		}
		return slices.Equal(userIDs(us), []string{"lan"})
	}
	step := func(what string, fn func(*model.User), want bool) {
		t.Helper()
		update(t, s, func(tx datastore.Tx) error {
			if err := change(fn)(tx); err != nil {
				return err
			}
			if got := listedIn(tx); got != want {
				t.Errorf("%s, in its transaction: listed %v, want %v", what, got, want)
			}
			return nil
		})
		view(t, s, func(tx datastore.ReadTx) error {
			if got := listedIn(tx); got != want {
				t.Errorf("%s: listed %v, want %v", what, got, want)
			}
			return nil
		})
	}
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateUser(userOf("lan", unitAName, model.RoleCommuneWorker)); err != nil {
			return err
		}
		if !listedIn(tx) {
			t.Error("a user created is not listed in the transaction that creates her")
		}
		return nil
	})
	step("disabled", func(u *model.User) { u.DisableTime = baseTime }, false)
	step("enabled again", func(u *model.User) { u.DisableTime = time.Time{} }, true)
	step("made a chair", func(u *model.User) { u.Role = model.RoleCommuneChair }, false)
	step("a worker again", func(u *model.User) { u.Role = model.RoleCommuneWorker }, true)
	step("moved to unit B", func(u *model.User) { u.Unit = "units/" + unitB.String() }, false)
	step("moved to the social work centre as a supervisor", func(u *model.User) {
		u.Unit, u.Role = model.OrgSocialWorkCentre, model.RoleHotlineSupervisor
	}, true)
	step("back to unit A", func(u *model.User) { u.Unit, u.Role = unitAName, model.RoleCommuneWorker }, true)
	step("renamed", func(u *model.User) { u.DisplayName = "Lan" }, true)
	errBoom := errors.New("boom")
	if err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if err := change(func(u *model.User) { u.DisableTime = baseTime })(tx); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want errBoom", err)
	}
	view(t, s, func(tx datastore.ReadTx) error {
		if !listedIn(tx) {
			t.Error("a disabling rolled back took the user off the list")
		}
		return nil
	})
}

func testActiveUsersOfBadCursor(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("a"), sampleUser("b"))
	view(t, s, func(tx datastore.ReadTx) error {
		for _, cur := range []string{"zz", "not a cursor"} {
			if us, next, err := tx.ListActiveUsersOf(activeOf, cur, 5); !errors.Is(err, model.ErrBadCursor) {
				t.Errorf("ListActiveUsersOf(after %q) = %v, %q, %v; want ErrBadCursor", cur, userIDs(us), next, err)
			}
		}
		for _, limit := range []int{0, -1} {
			if _, _, err := tx.ListActiveUsersOf(activeOf, "", limit); err == nil {
				t.Errorf("ListActiveUsersOf(limit %d) succeeded", limit)
			}
		}
		return nil
	})
}

// ---------------------------------------------------------------------------
// Tokens

func sampleToken(id, userID string) model.Token {
	return model.Token{
		ID:         id,
		UserID:     userID,
		SecretHash: []byte{0x00, 0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0xff, 0x00},
		CreateTime: baseTime,
		ExpireTime: baseTime.Add(90 * 24 * time.Hour),
		CreatedBy:  "admin", // another user's: kept as it is
	}
}

func sameToken(got, want model.Token) string {
	diffs := timeDiffs(
		timePair{"CreateTime", &got.CreateTime, want.CreateTime},
		timePair{"ExpireTime", &got.ExpireTime, want.ExpireTime},
		timePair{"RevokeTime", &got.RevokeTime, want.RevokeTime},
	)
	got.SecretHash, want.SecretHash = nilIfEmpty(got.SecretHash), nilIfEmpty(want.SecretHash)
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(diffs, "; ")
}

func createTokens(t *testing.T, s datastore.Store, ts ...model.Token) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, tok := range ts {
			if err := tx.CreateToken(tok); err != nil {
				return fmt.Errorf("CreateToken(%s): %w", tok.ID, err)
			}
		}
		return nil
	})
}

func getToken(t *testing.T, s datastore.Store, id string) (model.Token, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (model.Token, error) { return tx.Token(id) })
}

func mustToken(t *testing.T, s datastore.Store, id string) model.Token {
	t.Helper()
	tok, err := getToken(t, s, id)
	if err != nil {
		t.Fatalf("Token(%s): %v", id, err)
	}
	return tok
}

func tokensOfUser(t *testing.T, s datastore.Store, userID string) []string {
	t.Helper()
	var ids []string
	view(t, s, func(tx datastore.ReadTx) error {
		ts, err := tx.TokensOfUser(userID)
		if err != nil {
			return fmt.Errorf("TokensOfUser(%q): %w", userID, err)
		}
		for _, tok := range ts {
			ids = append(ids, tok.ID)
		}
		return nil
	})
	return ids
}

func testTokenRoundTrip(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	want := sampleToken("7f3a9c01d2e4b5a6", "lan.nguyen")
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateToken(want); err != nil {
			return err
		}
		got, err := tx.Token(want.ID)
		if err != nil {
			t.Errorf("Token in the creating transaction: %v", err)
		} else if d := sameToken(got, want); d != "" {
			t.Errorf("Token in the creating transaction differs: %s", d)
		}
		return nil
	})
	got := mustToken(t, s, want.ID)
	if d := sameToken(got, want); d != "" {
		t.Errorf("Token after commit differs: %s", d)
	}
	if !bytes.Equal(got.SecretHash, want.SecretHash) || !got.RevokeTime.IsZero() {
		t.Errorf("token did not round-trip: %+v", got)
	}
	want.SecretHash[0] = 0xaa
	if again := mustToken(t, s, want.ID); again.SecretHash[0] != 0x00 {
		t.Errorf("stored token changed with the caller's value: %x", again.SecretHash)
	}
}

func testTokenDuplicateID(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"), sampleUser("minh.tran"))
	first := sampleToken("tok1", "lan.nguyen")
	createTokens(t, s, first)
	second := sampleToken("tok1", "minh.tran")
	second.SecretHash = []byte("other")
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "CreateToken with a taken id", tx.CreateToken(second), model.ErrAlreadyExists)
		return nil // commit whatever the failed call may have written
	})
	if d := sameToken(mustToken(t, s, first.ID), first); d != "" {
		t.Errorf("a refused CreateToken changed the token: %s", d)
	}
	if got := tokensOfUser(t, s, "minh.tran"); len(got) != 0 {
		t.Errorf("a refused CreateToken indexed the token under its user: TokensOfUser(minh.tran) = %v", got)
	}
	if got := tokensOfUser(t, s, "lan.nguyen"); !slices.Equal(got, []string{"tok1"}) {
		t.Errorf("TokensOfUser(lan.nguyen) = %v, want [tok1]", got)
	}
}

func testTokenMissingUser(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	for _, userID := range []string{"ghost", "lan", ""} {
		tok := sampleToken("tok-"+userID, userID)
		update(t, s, func(tx datastore.Tx) error {
			wantErr(t, fmt.Sprintf("CreateToken for missing user %q", userID), tx.CreateToken(tok), model.ErrNotFound)
			return nil
		})
		_, err := getToken(t, s, tok.ID)
		wantErr(t, "Token after a refused CreateToken", err, model.ErrNotFound)
		if got := tokensOfUser(t, s, userID); len(got) != 0 {
			t.Errorf("TokensOfUser(%q) after a refused CreateToken = %v, want none", userID, got)
		}
	}
	// The user created in the same transaction counts.
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateUser(sampleUser("new.user")); err != nil {
			return err
		}
		return tx.CreateToken(sampleToken("tok-new", "new.user"))
	})
	if got := tokensOfUser(t, s, "new.user"); !slices.Equal(got, []string{"tok-new"}) {
		t.Errorf("TokensOfUser(new.user) = %v, want [tok-new]", got)
	}
}

func testTokenNotFound(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	createTokens(t, s, sampleToken("7f3a9c01", "lan.nguyen"))
	for _, id := range []string{"7f3a9c0", "7f3a9c011", "7F3A9C01", ""} {
		_, err := getToken(t, s, id)
		wantErr(t, fmt.Sprintf("Token(%q)", id), err, model.ErrNotFound)
	}
}

func testTokenUpdate(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	tok, other := sampleToken("tok1", "lan.nguyen"), sampleToken("tok2", "lan.nguyen")
	createTokens(t, s, tok, other)
	tok.RevokeTime = baseTime.Add(time.Hour)
	tok.Kind = model.TokenSession
	tok.ExpireTime = baseTime.Add(2 * time.Hour)
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateToken(tok) })
	if d := sameToken(mustToken(t, s, tok.ID), tok); d != "" {
		t.Errorf("Token after UpdateToken differs: %s", d)
	}
	if d := sameToken(mustToken(t, s, other.ID), other); d != "" {
		t.Errorf("UpdateToken changed another token: %s", d)
	}
	if got := tokensOfUser(t, s, "lan.nguyen"); !slices.Equal(got, []string{"tok1", "tok2"}) {
		t.Errorf("TokensOfUser after UpdateToken = %v, want [tok1 tok2]", got)
	}
}

func testTokenUpdateMissing(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	tok := sampleToken("ghost", "lan.nguyen")
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "UpdateToken of a missing token", tx.UpdateToken(tok), model.ErrNotFound)
		return nil
	})
	_, err := getToken(t, s, tok.ID)
	wantErr(t, "Token after a refused UpdateToken", err, model.ErrNotFound)
	if got := tokensOfUser(t, s, "lan.nguyen"); len(got) != 0 {
		t.Errorf("TokensOfUser after a refused UpdateToken = %v, want none", got)
	}
}

// A deleted token is gone from Token, TokensOfUser and TokensOfUserPage
// alike, its user's other tokens and other users' stay; a missing one is
// model.ErrNotFound and changes nothing; the id may be used again.
func testTokenDelete(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"), sampleUser("minh.tran"))
	createTokens(t, s, sampleToken("tok1", "lan.nguyen"), sampleToken("tok2", "lan.nguyen"), sampleToken("tok3", "minh.tran"))
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.DeleteToken("tok1"); err != nil {
			return err
		}
		_, err := tx.Token("tok1")
		wantErr(t, "Token in the deleting transaction", err, model.ErrNotFound)
		return nil
	})
	_, err := getToken(t, s, "tok1")
	wantErr(t, "Token after DeleteToken", err, model.ErrNotFound)
	if got := tokensOfUser(t, s, "lan.nguyen"); !slices.Equal(got, []string{"tok2"}) {
		t.Errorf("TokensOfUser(lan.nguyen) after DeleteToken(tok1) = %v, want [tok2]", got)
	}
	if got := tokenPages(t, s, "lan.nguyen", 1, nil); !slices.EqualFunc(got, [][]string{{"tok2"}}, slices.Equal) {
		t.Errorf("TokensOfUserPage(lan.nguyen) after DeleteToken(tok1) = %v, want [[tok2]]", got)
	}
	if got := tokensOfUser(t, s, "minh.tran"); !slices.Equal(got, []string{"tok3"}) {
		t.Errorf("TokensOfUser(minh.tran) = %v, want [tok3]", got)
	}
	for _, id := range []string{"tok1", "ghost", ""} {
		update(t, s, func(tx datastore.Tx) error {
			wantErr(t, fmt.Sprintf("DeleteToken(%q) of no token", id), tx.DeleteToken(id), model.ErrNotFound)
			return nil
		})
	}
	if d := sameToken(mustToken(t, s, "tok2"), sampleToken("tok2", "lan.nguyen")); d != "" {
		t.Errorf("a refused DeleteToken changed another token: %s", d)
	}
	createTokens(t, s, sampleToken("tok1", "minh.tran"))
	if got := tokensOfUser(t, s, "minh.tran"); !slices.Equal(got, []string{"tok1", "tok3"}) {
		t.Errorf("TokensOfUser(minh.tran) after the id was used again = %v, want [tok1 tok3]", got)
	}
}

func testTokenUserCannotChange(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"), sampleUser("minh.tran"))
	tok := sampleToken("tok1", "lan.nguyen")
	createTokens(t, s, tok)
	for _, userID := range []string{"minh.tran", "ghost", ""} {
		moved := tok
		moved.UserID = userID
		moved.RevokeTime = baseTime.Add(time.Minute)
		update(t, s, func(tx datastore.Tx) error {
			if err := tx.UpdateToken(moved); err == nil {
				t.Errorf("UpdateToken moving the token to user %q succeeded", userID)
			}
			return nil // commit whatever the failed call may have written
		})
		if d := sameToken(mustToken(t, s, tok.ID), tok); d != "" {
			t.Errorf("a refused UpdateToken changed the token: %s", d)
		}
		if got := tokensOfUser(t, s, userID); len(got) != 0 {
			t.Errorf("TokensOfUser(%q) after a refused move = %v, want none", userID, got)
		}
		if got := tokensOfUser(t, s, "lan.nguyen"); !slices.Equal(got, []string{"tok1"}) {
			t.Errorf("TokensOfUser(lan.nguyen) after a refused move = %v, want [tok1]", got)
		}
	}
}

// testTokensOfUser stores tokens of users whose ids are prefixes of each
// other, out of order: each user gets exactly theirs, in order of id.
func testTokensOfUser(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan"), sampleUser("lan.nguyen"), sampleUser("lan.n"), sampleUser("idle"))
	createTokens(t, s,
		sampleToken("c3", "lan.nguyen"),
		sampleToken("a1", "lan"),
		sampleToken("b2", "lan.nguyen"),
	)
	createTokens(t, s, sampleToken("nguyen", "lan"))
	createTokens(t, s, sampleToken("a0", "lan.nguyen"), sampleToken("z9", "lan.n"), sampleToken("0", "lan"))
	for user, want := range map[string][]string{
		"lan":        {"0", "a1", "nguyen"},
		"lan.nguyen": {"a0", "b2", "c3"},
		"lan.n":      {"z9"},
		"idle":       nil,
		"ghost":      nil,
		"la":         nil,
	} {
		if got := tokensOfUser(t, s, user); !slices.Equal(got, want) {
			t.Errorf("TokensOfUser(%q) = %v, want %v", user, got, want)
		}
	}
	// Listed tokens are whole.
	view(t, s, func(tx datastore.ReadTx) error {
		ts, err := tx.TokensOfUser("lan.n")
		if err != nil {
			return err
		}
		if len(ts) != 1 {
			return fmt.Errorf("TokensOfUser(lan.n) returned %d tokens", len(ts))
		}
		if d := sameToken(ts[0], sampleToken("z9", "lan.n")); d != "" {
			t.Errorf("listed token differs: %s", d)
		}
		return nil
	})
}

// tokenPages walks TokensOfUserPage from the start with a page size and
// a filter, and returns the ids of each page.
func tokenPages(t *testing.T, s datastore.Store, userID string, limit int, keep func(model.Token) bool) [][]string {
	t.Helper()
	return idPages(t, s, func(tx datastore.ReadTx, after string) ([]string, string, error) {
		ts, next, err := tx.TokensOfUserPage(userID, after, limit, keep)
		var ids []string
		for _, tok := range ts {
			ids = append(ids, tok.ID)
		}
		return ids, next, err
	})
}

// idPages follows a list's cursors from the start, each page read in a
// view of its own, and returns the ids of each page.
func idPages(t *testing.T, s datastore.Store, list func(tx datastore.ReadTx, after string) ([]string, string, error)) [][]string {
	t.Helper()
	var pages [][]string
	after := ""
	for range 10_000 {
		var page []string
		var next string
		view(t, s, func(tx datastore.ReadTx) error {
			var err error
			page, next, err = list(tx, after)
			return err
		})
		pages = append(pages, page)
		if next == "" {
			return pages
		}
		after = next
	}
	t.Fatal("the pages did not end")
	return nil
}

func testTokensOfUserPage(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan"), sampleUser("lan.nguyen"), sampleUser("idle"))
	var all []model.Token
	for _, id := range []string{"c3", "a1", "b2", "d4", "e5"} {
		tok := sampleToken(id, "lan.nguyen")
		if id == "b2" || id == "d4" {
			tok.Kind = model.TokenSession
		}
		all = append(all, tok)
	}
	createTokens(t, s, all...)
	createTokens(t, s, sampleToken("a0", "lan"), sampleToken("z9", "lan"))
	api := func(tok model.Token) bool { return tok.Kind == model.TokenAPI }
	for _, tt := range []struct {
		user  string
		limit int
		keep  func(model.Token) bool
		want  string
	}{
		{"lan.nguyen", 2, nil, "[[a1 b2] [c3 d4] [e5]]"},
		{"lan.nguyen", 5, nil, "[[a1 b2 c3 d4 e5]]"},
		{"lan.nguyen", 10, nil, "[[a1 b2 c3 d4 e5]]"},
		{"lan.nguyen", 1, api, "[[a1] [c3] [e5]]"},
		{"lan.nguyen", 2, api, "[[a1 c3] [e5]]"},
		{"lan", 1, nil, "[[a0] [z9]]"}, // not lan.nguyen's, whose ids sort between
		{"idle", 3, nil, "[[]]"},
		{"ghost", 3, nil, "[[]]"},
	} {
		if got := fmt.Sprint(tokenPages(t, s, tt.user, tt.limit, tt.keep)); got != tt.want {
			t.Errorf("TokensOfUserPage(%q, limit %d, api only %t) pages = %s, want %s", tt.user, tt.limit, tt.keep != nil, got, tt.want)
		}
	}
	// Listed tokens are whole.
	view(t, s, func(tx datastore.ReadTx) error {
		ts, _, err := tx.TokensOfUserPage("lan.nguyen", "", 1, nil)
		if err != nil || len(ts) != 1 {
			return fmt.Errorf("TokensOfUserPage(lan.nguyen, 1) = %v, %v", ts, err)
		}
		if d := sameToken(ts[0], all[1]); d != "" {
			t.Errorf("listed token differs: %s", d)
		}
		for _, cur := range []string{"zz", "not a cursor"} {
			_, _, err := tx.TokensOfUserPage("lan.nguyen", cur, 1, nil)
			wantErr(t, fmt.Sprintf("TokensOfUserPage(cursor %q)", cur), err, model.ErrBadCursor)
		}
		return nil
	})
}

// testTokensOfUserPageSkipsBounded: a user of many console sessions and
// few API tokens costs a page of the API tokens and at most
// storekey.MaxSkipped sessions, each page ending short with a cursor,
// and the pages together hold every API token once.
func testTokensOfUserPageSkipsBounded(t *testing.T, s datastore.Store) {
	createUsers(t, s, sampleUser("lan.nguyen"))
	n := 2*storekey.MaxSkipped + 10
	var want []string
	for from := 0; from < n; from += 200 {
		var batch []model.Token
		for i := from; i < min(from+200, n); i++ {
			tok := sampleToken(fmt.Sprintf("t%05d", i), "lan.nguyen")
			tok.Kind = model.TokenSession
			if i%700 == 0 {
				tok.Kind = model.TokenAPI
				want = append(want, tok.ID)
			}
			batch = append(batch, tok)
		}
		createTokens(t, s, batch...)
	}
	var seen int
	keep := func(tok model.Token) bool { seen++; return tok.Kind == model.TokenAPI }
	var got []string
	after, pages, maxSeen := "", 0, 0
	for {
		seen = 0
		var next string
		view(t, s, func(tx datastore.ReadTx) error {
			ts, n, err := tx.TokensOfUserPage("lan.nguyen", after, 5, keep)
			for _, tok := range ts {
				got = append(got, tok.ID)
			}
			next = n
			return err
		})
		pages++
		maxSeen = max(maxSeen, seen)
		if next == "" || pages > n {
			break
		}
		after = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("the pages together = %v, want %v", got, want)
	}
	if maxSeen > storekey.MaxSkipped+5+1 {
		t.Errorf("a page of 5 read %d tokens: it must stop after %d left out", maxSeen, storekey.MaxSkipped)
	}
}

// ---------------------------------------------------------------------------
// Police units

func samplePoliceUnit(id string, covers ...units.Key) model.PoliceUnit {
	return model.PoliceUnit{
		ID:          id,
		DisplayName: "Công an " + id,
		Covers:      covers,
		CreateTime:  baseTime,
	}
}

func samePoliceUnit(got, want model.PoliceUnit) string {
	diffs := timeDiffs(timePair{"CreateTime", &got.CreateTime, want.CreateTime})
	got.Covers, want.Covers = nilIfEmpty(got.Covers), nilIfEmpty(want.Covers)
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(diffs, "; ")
}

func getPoliceUnit(t *testing.T, s datastore.Store, id string) (model.PoliceUnit, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (model.PoliceUnit, error) { return tx.PoliceUnit(id) })
}

func createPoliceUnits(t *testing.T, s datastore.Store, ps ...model.PoliceUnit) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, p := range ps {
			if err := tx.CreatePoliceUnit(p); err != nil {
				return fmt.Errorf("CreatePoliceUnit(%s): %w", p.ID, err)
			}
		}
		return nil
	})
}

func testPoliceUnitRoundTrip(t *testing.T, s datastore.Store) {
	ward := samplePoliceUnit("ca-phuong-ba-dinh", unitA, unitAOld, unitB)
	city := samplePoliceUnit("ca-ha-noi") // covers all of Hanoi
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreatePoliceUnit(ward); err != nil {
			return err
		}
		got, err := tx.PoliceUnit(ward.ID)
		if err != nil {
			t.Errorf("PoliceUnit in the creating transaction: %v", err)
		} else if d := samePoliceUnit(got, ward); d != "" {
			t.Errorf("PoliceUnit in the creating transaction differs: %s", d)
		}
		return tx.CreatePoliceUnit(city)
	})
	for _, want := range []model.PoliceUnit{ward, city} {
		got, err := getPoliceUnit(t, s, want.ID)
		if err != nil {
			t.Fatalf("PoliceUnit(%s): %v", want.ID, err)
		}
		if d := samePoliceUnit(got, want); d != "" {
			t.Errorf("PoliceUnit(%s) differs: %s", want.ID, d)
		}
		if len(got.Covers) != len(want.Covers) {
			t.Errorf("PoliceUnit(%s).Covers = %v, want %v", want.ID, got.Covers, want.Covers)
		}
	}
}

func testPoliceUnitDuplicateID(t *testing.T, s datastore.Store) {
	first := samplePoliceUnit("ca-phuong-ba-dinh", unitA)
	createPoliceUnits(t, s, first)
	dup := samplePoliceUnit(first.ID, unitB, unitC)
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "CreatePoliceUnit with a taken id", tx.CreatePoliceUnit(dup), model.ErrAlreadyExists)
		return nil
	})
	got, err := getPoliceUnit(t, s, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := samePoliceUnit(got, first); d != "" {
		t.Errorf("a refused CreatePoliceUnit changed the unit: %s", d)
	}
}

func testPoliceUnitNotFound(t *testing.T, s datastore.Store) {
	createPoliceUnits(t, s, samplePoliceUnit("ca-phuong-ba-dinh"))
	for _, id := range []string{"ca-phuong-ba", "ca-phuong-ba-dinh-2", "policeUnits/ca-phuong-ba-dinh", ""} {
		_, err := getPoliceUnit(t, s, id)
		wantErr(t, fmt.Sprintf("PoliceUnit(%q)", id), err, model.ErrNotFound)
	}
}

func testPoliceUnitList(t *testing.T, s datastore.Store) {
	view(t, s, func(tx datastore.ReadTx) error {
		ps, err := tx.ListPoliceUnits()
		if err != nil || len(ps) != 0 {
			t.Errorf("ListPoliceUnits on an empty store = %v, %v; want none", ps, err)
		}
		return nil
	})
	ids := []string{"ca-tay-ho", "ca-ha-noi", "ca-phuong-ba-dinh", "ca-ba-dinh", "ca-phuong-ba-dinh-2"}
	for i, id := range ids {
		createPoliceUnits(t, s, samplePoliceUnit(id, units.Key{Code: fmt.Sprintf("%05d", i), ValidFrom: unitA.ValidFrom}))
	}
	want := slices.Sorted(slices.Values(ids))
	view(t, s, func(tx datastore.ReadTx) error {
		ps, err := tx.ListPoliceUnits()
		if err != nil {
			return err
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.ID)
			i := slices.Index(ids, p.ID)
			if i < 0 {
				continue
			}
			if d := samePoliceUnit(p, samplePoliceUnit(p.ID, units.Key{Code: fmt.Sprintf("%05d", i), ValidFrom: unitA.ValidFrom})); d != "" {
				t.Errorf("listed police unit %s differs: %s", p.ID, d)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListPoliceUnits = %v, want in order of id %v", got, want)
		}
		return nil
	})
}

func testPoliceUnitListPage(t *testing.T, s datastore.Store) {
	ids := []string{"ca-tay-ho", "ca-ha-noi", "ca-phuong-ba-dinh", "ca-ba-dinh", "ca-phuong-ba-dinh-2"}
	for i, id := range ids {
		createPoliceUnits(t, s, samplePoliceUnit(id, units.Key{Code: fmt.Sprintf("%05d", i), ValidFrom: unitA.ValidFrom}))
	}
	for limit, want := range map[int]string{
		1: "[[ca-ba-dinh] [ca-ha-noi] [ca-phuong-ba-dinh] [ca-phuong-ba-dinh-2] [ca-tay-ho]]",
		2: "[[ca-ba-dinh ca-ha-noi] [ca-phuong-ba-dinh ca-phuong-ba-dinh-2] [ca-tay-ho]]",
		5: "[[ca-ba-dinh ca-ha-noi ca-phuong-ba-dinh ca-phuong-ba-dinh-2 ca-tay-ho]]",
		9: "[[ca-ba-dinh ca-ha-noi ca-phuong-ba-dinh ca-phuong-ba-dinh-2 ca-tay-ho]]",
	} {
		pages := idPages(t, s, func(tx datastore.ReadTx, after string) ([]string, string, error) {
			ps, next, err := tx.ListPoliceUnitsPage(after, limit)
			var ids []string
			for _, p := range ps {
				ids = append(ids, p.ID)
			}
			return ids, next, err
		})
		if got := fmt.Sprint(pages); got != want {
			t.Errorf("ListPoliceUnitsPage(limit %d) pages = %s, want %s", limit, got, want)
		}
	}
	view(t, s, func(tx datastore.ReadTx) error {
		_, _, err := tx.ListPoliceUnitsPage("zz", 2)
		wantErr(t, "ListPoliceUnitsPage(cursor zz)", err, model.ErrBadCursor)
		return nil
	})
}
