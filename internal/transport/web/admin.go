package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// adminRoutes are the admin's screens: users and their tokens, and the
// police units cases can be referred to.
func (c *Console) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", c.signed(c.adminUsers))
	mux.HandleFunc("POST /admin/users", c.signed(c.adminCreateUser))
	mux.HandleFunc("GET /admin/users/{user}", c.signed(c.adminUser))
	mux.HandleFunc("GET /admin/users/{user}/disable", c.signed(c.adminConfirmDisable))
	mux.HandleFunc("POST /admin/users/{user}/disable", c.signed(c.adminDisable))
	mux.HandleFunc("POST /admin/users/{user}/tokens", c.signed(c.adminCreateToken))
	mux.HandleFunc("POST /admin/users/{user}/tokens/{token}/revoke", c.signed(c.adminRevokeToken))
	mux.HandleFunc("GET /admin/police", c.signed(c.adminPolice))
	mux.HandleFunc("POST /admin/police", c.signed(c.adminCreatePolice))
	mux.HandleFunc("POST /admin/users/{user}/reset-password", c.signed(c.adminResetPassword))
	// A form's answer (a new user's or token's secret, a reset link, a
	// refusal) is shown at the path the form posts to; the language switch
	// (or a reload) from there goes back to the page of the form, not to
	// "not found". The secret itself is never shown again.
	toUser := seeOther(func(r *http.Request) string { return "/admin/users/" + url.PathEscape(r.PathValue("user")) })
	mux.HandleFunc("GET /admin/users", c.signed(seeOther(func(*http.Request) string { return "/admin" })))
	mux.HandleFunc("GET /admin/users/{user}/tokens", c.signed(toUser))
	mux.HandleFunc("GET /admin/users/{user}/tokens/{token}/revoke", c.signed(toUser))
	mux.HandleFunc("GET /admin/users/{user}/reset-password", c.signed(toUser))
}

const adminPageSize = 50

// The organisations a user may belong to besides the administrative and
// police units, as identity.proto names them.
var adminOrgs = []string{"orgs/hotline-111", "orgs/social-work-centre", "orgs/system"}

// requestID is a fresh id for a form's request_id: a form posted twice (a
// reload, a double click) makes one user, one token, one unit.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// userForm is the create-user form, as typed.
type userForm struct {
	RequestID, UserID, DisplayName, Role, Unit, Phone string
}

// usersPage is the data of the users page.
type usersPage struct {
	Users    []userRow
	Next     string
	Form     userForm
	Roles    []string // model role names, for the select
	Units    unitChoices
	CanReset bool
}

// userRow is a user as the lists show them.
type userRow struct {
	ID, Role string // the role's name as the catalogs key it
	User     *pb.User
	// RequestID is the request_id of the row's reset-password form, so
	// that a reset sent twice (a double click, a reload of its answer)
	// is made once and the link first shown still works.
	RequestID string
}

func newUserRow(u *pb.User) userRow {
	return userRow{ID: strings.TrimPrefix(u.GetName(), "users/"), Role: model.Role(u.GetRole()).String(), User: u, RequestID: requestID()}
}

// unitChoices are the units a user or a police unit may be given: the
// organisations, the administrative units in force today and the police
// units.
type unitChoices struct {
	Orgs   []string
	Units  []*pb.Unit
	Police []*pb.PoliceUnit
}

// mayResetPasswords reports whether the session's role may reset
// passwords: the button is shown only then.
func mayResetPasswords(s *session) bool { return mayUse(s, "AdminService/ResetPassword") }

func (c *Console) adminUsers(w http.ResponseWriter, r *http.Request, s *session) {
	c.showUsers(w, r, s, http.StatusOK, userForm{RequestID: requestID()}, "")
}

// showUsers renders a page of users with the create form (filled again
// after a refusal, with the API's words in errText).
func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, s *session, code int, form userForm, errText string) {
	ctx := c.apiContext(r, s)
	resp, err := c.api.admin.ListUsers(ctx, &pb.ListUsersRequest{PageSize: adminPageSize, PageToken: r.URL.Query().Get("page")})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	units, err := c.unitChoices(r, s)
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page := usersPage{Next: resp.GetNextPageToken(), Form: form, Units: units, CanReset: mayResetPasswords(s)}
	for _, role := range model.Roles {
		page.Roles = append(page.Roles, role.String())
	}
	for _, u := range resp.GetUsers() {
		page.Users = append(page.Users, newUserRow(u))
	}
	c.render(w, r, code, "admin", view{User: &s.user, CSRF: s.csrf, Title: "admin.title", Error: errText, Data: page})
}

// unitChoices asks the API for the units of the selects.
func (c *Console) unitChoices(r *http.Request, s *session) (unitChoices, error) {
	ctx := c.apiContext(r, s)
	out := unitChoices{Orgs: adminOrgs}
	req := &pb.ListUnitsRequest{PageSize: 1000, AsOfDate: vntime.DateOf(c.cfg.Clock.Now()).String()}
	for {
		resp, err := c.api.units.ListUnits(ctx, req)
		if err != nil {
			return out, err
		}
		out.Units = append(out.Units, resp.GetUnits()...)
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	preq := &pb.ListPoliceUnitsRequest{PageSize: 500}
	for {
		resp, err := c.api.police.ListPoliceUnits(ctx, preq)
		if err != nil {
			return out, err
		}
		out.Police = append(out.Police, resp.GetPoliceUnits()...)
		if preq.PageToken = resp.GetNextPageToken(); preq.PageToken == "" {
			break
		}
	}
	return out, nil
}

// failed answers an API call that failed, and reports whether it did: a
// refusal of what was typed shows the form again with the API's words,
// through again; anything else is answered as apiError answers it.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, s *session, err error, again func(refusal string)) bool {
	if err == nil {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.AlreadyExists, codes.FailedPrecondition:
		said, _ := c.catalogs.refused(c.language(r), err)
		again(said.String())
		return true
	}
	c.apiError(w, r, s, err)
	return true
}

// secretPage shows a token's secret, the only time anyone sees it.
type secretPage struct {
	UserID string
	Token  *pb.Token
	// PasswordLink is a new user's set-password link (the whole URL),
	// which CreateUser answers once: a person signs in with a password,
	// not a token. Empty for a token of an existing user.
	PasswordLink *resetLinkPage
}

func (c *Console) adminCreateUser(w http.ResponseWriter, r *http.Request, s *session) {
	form := userForm{
		RequestID: r.PostFormValue("request_id"), UserID: strings.TrimSpace(r.PostFormValue("user_id")),
		DisplayName: strings.TrimSpace(r.PostFormValue("display_name")), Role: r.PostFormValue("role"),
		Unit: r.PostFormValue("unit"), Phone: strings.TrimSpace(r.PostFormValue("phone")),
	}
	role, _ := model.ParseRole(form.Role) // an unknown role is ROLE_UNSPECIFIED, which the API refuses by name
	resp, err := c.api.admin.CreateUser(c.apiContext(r, s), &pb.CreateUserRequest{
		UserId: form.UserID, RequestId: form.RequestID,
		User: &pb.User{DisplayName: form.DisplayName, Role: pb.Role(role), Unit: form.Unit, Phone: form.Phone},
	})
	if c.failed(w, r, s, err, func(msg string) { c.showUsers(w, r, s, http.StatusBadRequest, form, msg) }) {
		return
	}
	link := &resetLinkPage{UserID: form.UserID, Link: c.passwordLink(r, resp.GetPasswordLinkSecret()),
		ExpireTime: resp.GetPasswordLinkExpireTime().AsTime()}
	c.render(w, r, http.StatusOK, "secret", view{User: &s.user, CSRF: s.csrf, Title: "admin.user.created",
		Data: secretPage{UserID: form.UserID, Token: resp.GetToken(), PasswordLink: link}})
}

// userPage is the data of a user's page: the user and their tokens.
type userPage struct {
	userRow
	Tokens    []tokenRow
	RequestID string
	CanReset  bool
}

// tokenRow is a token with its id, for the revoke button.
type tokenRow struct {
	ID    string
	Token *pb.Token
}

func (c *Console) adminUser(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := c.apiContext(r, s)
	name := "users/" + r.PathValue("user")
	u, err := c.api.admin.GetUser(ctx, &pb.GetUserRequest{Name: name})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page := userPage{userRow: newUserRow(u), RequestID: requestID(), CanReset: mayResetPasswords(s)}
	treq := &pb.ListTokensRequest{Parent: name, PageSize: 500}
	for {
		toks, err := c.api.admin.ListTokens(ctx, treq)
		if err != nil {
			c.apiError(w, r, s, err)
			return
		}
		for _, t := range toks.GetTokens() {
			page.Tokens = append(page.Tokens, tokenRow{ID: t.GetName()[strings.LastIndex(t.GetName(), "/")+1:], Token: t})
		}
		if treq.PageToken = toks.GetNextPageToken(); treq.PageToken == "" {
			break
		}
	}
	c.render(w, r, http.StatusOK, "adminuser", view{User: &s.user, CSRF: s.csrf, Title: "admin.user.title", Data: page})
}

// adminConfirmDisable asks before disabling: it ends every token of the
// user at once.
func (c *Console) adminConfirmDisable(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := c.api.admin.GetUser(c.apiContext(r, s), &pb.GetUserRequest{Name: "users/" + r.PathValue("user")})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "admindisable", view{User: &s.user, CSRF: s.csrf, Title: "admin.disable.title",
		Data: userPage{userRow: newUserRow(u), RequestID: requestID()}})
}

func (c *Console) adminDisable(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("user")
	_, err := c.api.admin.DisableUser(c.apiContext(r, s), &pb.DisableUserRequest{Name: "users/" + id, RequestId: r.PostFormValue("request_id")})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(id), http.StatusSeeOther)
}

func (c *Console) adminCreateToken(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("user")
	tok, err := c.api.admin.CreateToken(c.apiContext(r, s), &pb.CreateTokenRequest{Parent: "users/" + id, RequestId: r.PostFormValue("request_id")})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "secret", view{User: &s.user, CSRF: s.csrf, Title: "admin.token.created",
		Data: secretPage{UserID: id, Token: tok}})
}

func (c *Console) adminRevokeToken(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("user")
	_, err := c.api.admin.RevokeToken(c.apiContext(r, s), &pb.RevokeTokenRequest{
		Name: "users/" + id + "/tokens/" + r.PathValue("token"), RequestId: r.PostFormValue("request_id"),
	})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(id), http.StatusSeeOther)
}

// policeForm is the create-police-unit form, as typed.
type policeForm struct {
	RequestID, ID, DisplayName string
	Covers                     []string
}

// Has reports whether the form covers a unit, for the select.
func (f policeForm) Has(unit string) bool { return slices.Contains(f.Covers, unit) }

// policePage is the data of the police units page.
type policePage struct {
	Units  []*pb.PoliceUnit
	Form   policeForm
	Covers []*pb.Unit // the units a police unit may cover (coverable)
}

// coverable is the units of us a police unit may cover: all but the
// city, which the city police covers by covering none (the service
// refuses it as a cover, police_unit.covers_city), so that the form
// offers no choice that is sure to be refused.
func coverable(us []*pb.Unit) []*pb.Unit {
	var out []*pb.Unit
	for _, u := range us {
		if u.GetLevel() != pb.UnitLevel_UNIT_LEVEL_CITY {
			out = append(out, u)
		}
	}
	return out
}

func (c *Console) adminPolice(w http.ResponseWriter, r *http.Request, s *session) {
	c.showPolice(w, r, s, http.StatusOK, policeForm{RequestID: requestID()}, "")
}

func (c *Console) showPolice(w http.ResponseWriter, r *http.Request, s *session, code int, form policeForm, errText string) {
	if !mayUse(s, policeUnitsMethod) {
		// Every role may list the police units through the API, but this
		// page is admin's, to add one: a role that may not is refused as
		// on admin's other pages, by the API, which audits the refusal
		// (auth.denied). An empty request adds nothing even were it not
		// refused.
		_, err := c.api.admin.CreatePoliceUnit(c.apiContext(r, s), &pb.CreatePoliceUnitRequest{})
		c.refused(w, r, s, err)
		return
	}
	units, err := c.unitChoices(r, s)
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page := policePage{Units: units.Police, Form: form, Covers: coverable(units.Units)}
	c.render(w, r, code, "adminpolice", view{User: &s.user, CSRF: s.csrf, Title: "admin.police.title", Error: errText, Data: page})
}

func (c *Console) adminCreatePolice(w http.ResponseWriter, r *http.Request, s *session) {
	if err := r.ParseForm(); err != nil {
		c.showPolice(w, r, s, http.StatusBadRequest, policeForm{RequestID: requestID()}, err.Error())
		return
	}
	form := policeForm{
		RequestID: r.PostForm.Get("request_id"), ID: strings.TrimSpace(r.PostForm.Get("police_unit_id")),
		DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")), Covers: r.PostForm["covers"],
	}
	_, err := c.api.admin.CreatePoliceUnit(c.apiContext(r, s), &pb.CreatePoliceUnitRequest{
		PoliceUnitId: form.ID, RequestId: form.RequestID,
		PoliceUnit: &pb.PoliceUnit{DisplayName: form.DisplayName, Covers: form.Covers},
	})
	if c.failed(w, r, s, err, func(msg string) { c.showPolice(w, r, s, http.StatusBadRequest, form, msg) }) {
		return
	}
	http.Redirect(w, r, "/admin/police", http.StatusSeeOther)
}

// resetLinkPage shows a new set-password link, the only time anyone sees
// its secret.
type resetLinkPage struct {
	UserID     string
	Link       string // the whole URL, empty in the answer to a retry
	ExpireTime time.Time
}

// passwordLink is the whole URL of a set-password link's secret, on the
// address the admin reached the console at ("" for no secret: the answer
// to a retry).
func (c *Console) passwordLink(r *http.Request, secret string) string {
	if secret == "" {
		return ""
	}
	scheme := "http"
	if c.cfg.SecureCookies || r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/password/" + url.PathEscape(secret)
}

// adminResetPassword clears a user's password and second factor through
// the API and shows the new one-time link to pass on to them.
func (c *Console) adminResetPassword(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("user")
	resp, err := c.api.admin.ResetPassword(c.apiContext(r, s), &pb.ResetPasswordRequest{Name: "users/" + id, RequestId: r.PostFormValue("request_id")})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page := resetLinkPage{UserID: id, Link: c.passwordLink(r, resp.GetPasswordLinkSecret()), ExpireTime: resp.GetPasswordLinkExpireTime().AsTime()}
	c.render(w, r, http.StatusOK, "resetlink", view{User: &s.user, CSRF: s.csrf, Title: "admin.password.reset.done", Data: page})
}
