package model

import (
	"time"

	"github.com/childcase/childcase/internal/domain/units"
)

// Role is what a user may do. Every user has exactly one.
type Role int32

// Roles, numbered as the API's Role enum.
const (
	RoleHotlineOperator   Role = 1
	RoleHotlineSupervisor Role = 2
	RoleCommuneWorker     Role = 3
	RoleCommuneChair      Role = 4
	RoleDistrictOfficer   Role = 5
	RoleCityOfficer       Role = 6
	RolePoliceLiaison     Role = 7
	RoleAuditor           Role = 8
	RoleAdmin             Role = 9
	// RoleSystem is the service's own role, in the audit events of the
	// work it does on its own behalf (users/system: the first start, the
	// scheduler's firings and escalations, webhook delivery, the offline
	// commands), which were written as ADMIN before it: an auditor counting
	// what admins did must not count the service's work. No user holds it:
	// it is not in Roles, ParseRole does not take it, and the API's Role
	// enum reserves its number, so that no role of the API ever takes it.
	RoleSystem Role = 10
)

// Roles lists every role, in enum order.
var Roles = []Role{
	RoleHotlineOperator, RoleHotlineSupervisor, RoleCommuneWorker, RoleCommuneChair,
	RoleDistrictOfficer, RoleCityOfficer, RolePoliceLiaison, RoleAuditor, RoleAdmin,
}

var roleNames = map[Role]string{
	RoleHotlineOperator:   "HOTLINE_OPERATOR",
	RoleHotlineSupervisor: "HOTLINE_SUPERVISOR",
	RoleCommuneWorker:     "COMMUNE_WORKER",
	RoleCommuneChair:      "COMMUNE_CHAIR",
	RoleDistrictOfficer:   "DISTRICT_OFFICER",
	RoleCityOfficer:       "CITY_OFFICER",
	RolePoliceLiaison:     "POLICE_LIAISON",
	RoleAuditor:           "AUDITOR",
	RoleAdmin:             "ADMIN",
	RoleSystem:            "SYSTEM",
}

// String returns the role's API name, e.g. "COMMUNE_WORKER".
func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "ROLE_UNKNOWN"
}

// ParseRole parses an API role name, with or without the "ROLE_" prefix:
// a role a user may hold (Roles), never RoleSystem.
func ParseRole(s string) (Role, bool) {
	for _, r := range Roles {
		if n := roleNames[r]; s == n || s == "ROLE_"+n {
			return r, true
		}
	}
	return 0, false
}

// Organisations that are not administrative units. Users of the hotline
// roles belong to one of the two intake organisations; the system actor
// (bootstrap, demo seeding, key rotation) to OrgSystem.
const (
	OrgHotline111       = "orgs/hotline-111"
	OrgSocialWorkCentre = "orgs/social-work-centre"
	OrgSystem           = "orgs/system"
)

// User is a person (or a system integration) who calls the API.
type User struct {
	ID          string // e.g. "lan.nguyen"; the resource name is "users/{id}"
	DisplayName string
	Role        Role
	// Unit is the resource name of the user's unit: "units/{code}@{from}"
	// for commune, district and city staff, "policeUnits/{id}" for police
	// liaisons, an Org* constant for hotline staff, auditors and admins.
	Unit        string
	Phone       string // work contact, shown to police as the responsible officer's
	CreateTime  time.Time
	DisableTime time.Time // zero while the user may sign in
	// SignIn is how the person signs in to the console. The API never
	// shows it, and answers remembered for a retry leave it out.
	SignIn SignIn
}

// SignIn is a person's console credentials and lock-out state. Only an
// argon2id hash of the password is kept, and the TOTP secret only sealed.
type SignIn struct {
	PasswordHash string // PHC string, "$argon2id$v=19$m=...,t=...,p=...$salt$hash"; "" when none is set
	TOTP         Sealed // the TOTP secret, sealed; zero when not enrolled
	// TOTPLastStep is the 30-second step of the last TOTP code accepted:
	// a code is accepted once, so a later one must be of a later step.
	TOTPLastStep int64
	Failures     int32     // consecutive failed sign-ins
	LockedUntil  time.Time // the account refuses sign-ins until then
}

// Disabled reports whether the user was disabled.
func (u User) Disabled() bool { return !u.DisableTime.IsZero() }

// Token is a bearer credential of a user. Only a hash of its secret is kept.
type Token struct {
	ID         string // public part, e.g. "7f3a9c01d2e4b5a6"
	UserID     string
	SecretHash []byte // SHA-256 of the secret part
	CreateTime time.Time
	ExpireTime time.Time
	RevokeTime time.Time // zero while valid
	Kind       TokenKind
	// CreatedBy is the user id of who created the token: an admin,
	// "system" (the first start, the demo, the offline commands) or the
	// user themself (a console session); "" for a token created before
	// this was recorded. Whoever created it was shown its secret.
	CreatedBy string
}

// TokenKind tells what a token is for. Only API tokens are listed by
// ListTokens; all kinds are revoked with their user.
type TokenKind int32

const (
	// TokenAPI is a bearer token an admin issues for an API client.
	TokenAPI TokenKind = 0
	// TokenSession is the bearer token of a console session, issued at a
	// person's sign-in, kept by the console in memory and revoked at
	// sign-out.
	TokenSession TokenKind = 1
	// TokenPasswordLink is a one-time set-password link: it never
	// authenticates a call; using it revokes it.
	TokenPasswordLink TokenKind = 2
)

// PoliceUnit is a police unit cases can be referred to: a commune or ward
// police, a district or area unit, or the city police.
type PoliceUnit struct {
	ID          string // e.g. "ca-phuong-ba-dinh"; the resource name is "policeUnits/{id}"
	DisplayName string
	// Covers lists the administrative units the police unit serves; empty
	// for the city police, which covers all of Hanoi.
	Covers     []units.Key
	CreateTime time.Time
}

// IsCityPolice reports whether p is the city police: the one police unit
// that covers no unit, at the top of the police chain (every overdue
// referral escalates to it, and it sees the cases of the whole city).
func (p PoliceUnit) IsCityPolice() bool { return len(p.Covers) == 0 }

// PoliceUnitName returns the resource name of a police unit.
func PoliceUnitName(id string) string { return "policeUnits/" + id }

// UserName returns the resource name of a user.
func UserName(id string) string { return "users/" + id }
