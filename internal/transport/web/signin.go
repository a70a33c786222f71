package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// signInForm is what the sign-in page shows again after a refusal: the
// user name, never the password.
type signInForm struct {
	UserID   string
	Next     string
	NeedCode bool
	Pre      string // the pre-session CSRF token
}

// maxCredential bounds what the user id and code fields may hold; the
// password may be as long as a password can be set
// (identity.MaxPasswordBytes), or a long one set on the password page
// could never sign in.
const maxCredential = 256

// maxSignInsAtOnce bounds the sign-ins checked at the same time: each
// hashes a password with argon2id in 19 MiB of memory.
const maxSignInsAtOnce = 4

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if c.askedAgainFromHere(w, r) {
		return
	}
	pre := c.preToken(w, r)
	v := view{Title: "signin.title", Data: signInForm{Next: localPath(r.URL.Query().Get("next")), Pre: pre}}
	// "Your password is set" only in the browser that just set it, once.
	if _, err := r.Cookie(c.cookieName(passwordSetCookie)); err == nil {
		c.setCookie(w, passwordSetCookie, "", -1)
		if r.URL.Query().Get("set") == "1" {
			v.Flash = "password.done"
		}
	}
	c.render(w, r, http.StatusOK, "signin", v)
}

// signIn checks the form's pre-session token, then the credentials. Every
// refusal reads the same, whatever its cause (no user, wrong password,
// wrong code, locked), so the page tells a guesser nothing; the domain
// audits each with its cause. The form has a field for the TOTP code; a
// right password without the code a role needs asks for both again (the
// password is never written back into a page).
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	lang := c.language(r)
	pre, ok := c.preSessionForm(w, r)
	if !ok {
		return
	}
	form := signInForm{UserID: r.PostFormValue("user"), Next: localPath(r.PostFormValue("next")), Pre: pre}
	// The id as stored, however it was typed, so that a familiar account
	// is one whichever way its person types it.
	cred := Credentials{UserID: identity.CanonicalUserID(form.UserID), Password: r.PostFormValue("password"), Code: r.PostFormValue("code"), Client: c.clientIP(r)}
	// An address that failed too often waits before its passwords are
	// checked again, unless the account has signed in from it before
	// (familiarSignIns): refused unchecked, nothing is learnt. Whoever
	// shares the address must not tell the familiar accounts from the
	// others by the answer either: both are 429, and an unchecked refusal
	// takes as long as a checked one (pauseAsACheck) without its work, so
	// that a guesser's flood costs nothing and holds none of the places
	// the people who sign in from there need.
	wait := c.throttleWait(cred.Client)
	unchecked := wait > 0 && !c.familiar.has(cred.Client, cred.UserID)
	if len(form.UserID) > maxCredential || len(cred.Password) > identity.MaxPasswordBytes || len(cred.Code) > maxCredential ||
		!utf8.ValidString(form.UserID) || !utf8.ValidString(cred.Password) {
		if unchecked {
			c.cfg.Throttle.ThrottlePasswordSignIn(r.Context(), cred.Client)
		} else {
			c.failedFrom(cred.Client)
		}
		if wait > 0 {
			c.throttled(w, r, form, wait)
			return
		}
		form.UserID = ""
		c.render(w, r, http.StatusUnauthorized, "signin", view{Title: "signin.title", Error: c.catalogs.text(lang, "signin.refused"), Data: form})
		return
	}
	if unchecked {
		// A familiar account here would find every place taken and be
		// answered "busy" at once: so is this one, or the 429 would tell
		// it apart. It only looks; it takes no place.
		if len(c.signIns) == cap(c.signIns) {
			c.busy(w, r, form)
			return
		}
		if !c.pauseAsACheck(r.Context()) && !c.spendAsACheck(r.Context(), cred) {
			c.busy(w, r, form)
			return
		}
		c.cfg.Throttle.ThrottlePasswordSignIn(r.Context(), cred.Client)
		// While the database is full every check is answered so, a
		// familiar account's here too: this one is, or the 429 would
		// tell it apart.
		if f, ok := c.cfg.Accounts.(fullness); ok && f.Full() {
			c.databaseFull(w, r, form)
			return
		}
		c.throttled(w, r, form, wait)
		return
	}
	// A flood of sign-in forms would run as many hashes at once and
	// exhaust the memory: past maxSignInsAtOnce, the answer is "busy" at
	// once, and the person tries again (nothing is counted against the
	// account).
	select {
	case c.signIns <- struct{}{}:
	default:
		c.busy(w, r, form)
		return
	}
	checking := time.Now()
	acct, err := func() (Account, error) {
		defer func() { <-c.signIns }()
		return c.cfg.Accounts.SignIn(r.Context(), cred)
	}()
	if errors.Is(err, ErrRefused) {
		c.noteRefusalTime(time.Since(checking))
	}
	switch {
	case errors.Is(err, ErrCodeNeeded):
		form.NeedCode = true
		c.render(w, r, http.StatusOK, "signin", view{Title: "signin.title", Flash: "signin.code.needed", Data: form})
		return
	case errors.Is(err, ErrRefused):
		c.failedFrom(cred.Client)
		if wait > 0 {
			// A familiar account's failure at a throttled address is
			// answered as the others there are, as the API answers a
			// token that fails at one: the page tells no one which
			// accounts sign in from here.
			c.throttled(w, r, form, wait)
			return
		}
		c.render(w, r, http.StatusUnauthorized, "signin", view{Title: "signin.title", Error: c.catalogs.text(lang, "signin.refused"), Data: form})
		return
	case errors.Is(err, model.ErrFull):
		// A full database with its reserve used up cannot record the
		// session: say so, as the API does (503 here: the person did
		// nothing wrong, and an operator must free space).
		c.cfg.Log.ErrorContext(r.Context(), "console: sign in", "err", err)
		c.databaseFull(w, r, form)
		return
	case err != nil:
		c.cfg.Log.ErrorContext(r.Context(), "console: sign in", "err", err)
		c.render(w, r, http.StatusInternalServerError, "error", view{Title: "error.internal.title", Error: c.catalogs.text(lang, "error.internal")})
		return
	}
	// A session the browser still holds (the last person on a shared
	// computer did not sign out) ends here: its cookie is about to be
	// replaced, and nobody could use or end it after.
	if ck, err := r.Cookie(c.cookieName(sessionCookie)); err == nil {
		if old := c.sessions.remove(ck.Value, "ended by a sign-in of "+model.UserName(acct.User.ID)+" in the same browser"); old != nil {
			c.endToken(r.Context(), old)
		}
	}
	c.familiar.add(cred.Client, acct.User.ID)
	s, evicted := c.sessions.add(acct)
	if evicted != nil {
		c.endToken(r.Context(), evicted)
	}
	c.setCookie(w, preCookie, "", -1)
	c.setCookie(w, sessionCookie, s.id, 0) // a browser-session cookie; the server ends it when idle
	http.Redirect(w, r, nextPage(form.Next, acct.User), http.StatusSeeOther)
}

// noteRefusalTime adds a checked refusal's time to the moving average an
// unchecked refusal waits.
func (c *Console) noteRefusalTime(d time.Duration) {
	d = max(d, 1) // timed, however short: 0 is "none timed yet"
	for {
		old := c.refusalTime.Load()
		avg := int64(d)
		if old > 0 {
			avg = old + (int64(d)-old)/8
		}
		if c.refusalTime.CompareAndSwap(old, avg) {
			return
		}
	}
}

// pauseAsACheck waits as long as a checked refusal takes lately, so that
// an unchecked refusal's answer comes when a checked one's would, and
// reports true; false if no checked refusal was timed yet. It does none
// of the check's work. However many wait at once, each waits: its
// goroutine and connection are the request's own, held anyway, and one
// answered at once past a bound would tell its account from a familiar
// one, which is checked.
func (c *Console) pauseAsACheck(ctx context.Context) bool {
	d := time.Duration(c.refusalTime.Load())
	if d <= 0 {
		return false
	}
	if c.cfg.Pause != nil {
		c.cfg.Pause(ctx, d)
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// refusalSpender is Accounts that can spend the work of a refused SignIn
// of c (reading the account, the password hash, the commit) checking,
// counting and recording nothing.
type refusalSpender interface {
	RefuseUnchecked(ctx context.Context, c Credentials)
}

// spendAsACheck costs an unchecked refusal what a checked one does, in
// one of the places of maxSignInsAtOnce, and times it for pauseAsACheck;
// false if no place was free ("busy", as a check would be answered). It
// serves until a refusal was timed: an address is throttled by the API's
// failed tokens too, and the average starts empty at each start, so a
// throttled address may meet no time to wait, and a refusal answered at
// once would stand apart from a familiar account's, which is checked.
func (c *Console) spendAsACheck(ctx context.Context, cred Credentials) bool {
	spender, ok := c.cfg.Accounts.(refusalSpender)
	if !ok {
		return true // nothing to spend: the accounts check nothing costly
	}
	select {
	case c.signIns <- struct{}{}:
	default:
		return false
	}
	defer func() { <-c.signIns }()
	spending := time.Now()
	spender.RefuseUnchecked(ctx, cred)
	c.noteRefusalTime(time.Since(spending))
	return true
}

// throttleWait is how long client must wait before its passwords are
// checked again; 0 without a throttle.
func (c *Console) throttleWait(client string) time.Duration {
	if c.cfg.Throttle == nil {
		return 0
	}
	return c.cfg.Throttle.PasswordSignInWait(client)
}

// failedFrom counts a refused sign-in toward its address's throttle.
func (c *Console) failedFrom(client string) {
	if c.cfg.Throttle != nil {
		c.cfg.Throttle.FailPasswordSignIn(client)
	}
}

// throttled answers a sign-in from an address that failed too often: 429,
// the form again (the user name kept) saying to wait, and Retry-After in
// whole seconds, rounded up, as the API's 429 says it.
func (c *Console) throttled(w http.ResponseWriter, r *http.Request, form signInForm, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64((wait+time.Second-1)/time.Second)), 10))
	c.render(w, r, http.StatusTooManyRequests, "signin", view{Title: "signin.title", Error: c.catalogs.text(c.language(r), "signin.throttled"), Data: form})
}

// busy answers a sign-in that finds every place of maxSignInsAtOnce
// taken: 503, the form again, and Retry-After: 1.
func (c *Console) busy(w http.ResponseWriter, r *http.Request, form signInForm) {
	w.Header().Set("Retry-After", "1")
	c.render(w, r, http.StatusServiceUnavailable, "signin", view{Title: "signin.title", Error: c.catalogs.text(c.language(r), "signin.busy"), Data: form})
}

// databaseFull answers a sign-in the database, full past its reserve,
// cannot record: 503, the form again, and Retry-After: 60.
func (c *Console) databaseFull(w http.ResponseWriter, r *http.Request, form signInForm) {
	w.Header().Set("Retry-After", "60")
	c.render(w, r, http.StatusServiceUnavailable, "signin", view{Title: "signin.title", Error: c.catalogs.text(c.language(r), "refusal.DATABASE_FULL"), Data: form})
}

// fullness is Accounts that can tell whether the database is full past
// its reserve, when every check is answered model.ErrFull.
type fullness interface {
	Full() bool
}

// nextPage is where a person goes after signing in: back to the page
// that sent them to sign in, or to their start page.
func nextPage(p string, u model.User) string {
	if p == "/" || p == "/signin" {
		return startPage(u)
	}
	return p
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	if ended := c.sessions.remove(s.id, "signed out"); ended != nil {
		c.endToken(r.Context(), ended)
	}
	c.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// preToken is the pre-session CSRF token for the form of a sign-in or
// set-password page: the browser's own, when it holds one, so that
// opening another such page (a second tab, a set-password link) does not
// replace the token of a form already open, which would then be refused;
// else a new one. The cookie is set again either way, for an hour from
// this page.
func (c *Console) preToken(w http.ResponseWriter, r *http.Request) string {
	pre := randomToken()
	if ck, err := r.Cookie(c.cookieName(preCookie)); err == nil && wellFormedToken(ck.Value) {
		pre = ck.Value
	}
	c.setCookie(w, preCookie, pre, 3600)
	return pre
}

// preSessionForm checks the CSRF token of a form posted before there is a
// session (sign-in, setting a password) against the pre-session cookie the
// form's page set, and answers 403 when they differ. It returns the token.
func (c *Console) preSessionForm(w http.ResponseWriter, r *http.Request) (string, bool) {
	pre, err := r.Cookie(c.cookieName(preCookie))
	if err != nil || !sameToken(pre.Value, r.PostFormValue("csrf")) {
		c.render(w, r, http.StatusForbidden, "error", view{Title: "error.forbidden.title", Error: c.catalogs.text(c.language(r), "signin.expired")})
		return "", false
	}
	return pre.Value, true
}
