package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// Passwords sets a person's password through a one-time link (printed by
// `childcase users add`, answered by the API's :resetPassword): the
// domain's identity service.
type Passwords interface {
	LinkUser(ctx context.Context, secret, client string) (u model.User, needsTOTP bool, err error)
	SetPasswordWithLink(ctx context.Context, in identity.SetPassword) (model.User, error)
}

// passwordForm is the data of the set-password page.
type passwordForm struct {
	User       model.User
	Pre        string // the pre-session CSRF token
	NeedsTOTP  bool
	TOTPSecret string       // the secret being enrolled, kept across a wrong code
	TOTPProof  string       // that this page made TOTPSecret (totpProof)
	TOTPQR     template.URL // a data: URL of its QR code
}

func (c *Console) passwordRoutes(mux *http.ServeMux) {
	if c.cfg.Passwords == nil {
		return
	}
	mux.HandleFunc("GET /password/{link}", c.passwordPage)
	mux.HandleFunc("POST /password/{link}", c.setPassword)
}

// passwordPage shows the form of a live link; a used, expired or unknown
// link is not found. For a role that needs a second factor it shows a new
// TOTP secret to enrol, as a QR code and as text.
func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	if c.askedAgainFromHere(w, r) {
		return
	}
	u, needsTOTP, err := c.cfg.Passwords.LinkUser(r.Context(), r.PathValue("link"), c.clientIP(r))
	if err != nil {
		c.linkError(w, r, err)
		return
	}
	form := passwordForm{User: u, NeedsTOTP: needsTOTP}
	if needsTOTP {
		if err := c.newTOTPSecret(&form, r.PathValue("link")); err != nil {
			c.linkError(w, r, err)
			return
		}
	}
	form.Pre = c.preToken(w, r)
	c.render(w, r, http.StatusOK, "password", view{Title: "password.title", Data: form})
}

// setPassword sets the password (and enrols the TOTP secret) and sends
// the person to sign in. A refusal shows the rule that failed, keeping the
// TOTP secret being enrolled so the authenticator app need not start again.
func (c *Console) setPassword(w http.ResponseWriter, r *http.Request) {
	lang := c.language(r)
	pre, ok := c.preSessionForm(w, r)
	if !ok {
		return
	}
	link := r.PathValue("link")
	u, needsTOTP, err := c.cfg.Passwords.LinkUser(r.Context(), link, c.clientIP(r))
	if err != nil {
		c.linkError(w, r, err)
		return
	}
	form := passwordForm{User: u, Pre: pre, NeedsTOTP: needsTOTP}
	if needsTOTP {
		form.TOTPSecret, form.TOTPProof = r.PostFormValue("totp_secret"), r.PostFormValue("totp_proof")
		if !hmac.Equal([]byte(form.TOTPProof), []byte(c.totpProof(link, form.TOTPSecret))) {
			// Not a secret this page made: a new one to enrol, and
			// nothing set.
			if err := c.newTOTPSecret(&form, link); err != nil {
				c.linkError(w, r, err)
				return
			}
			c.render(w, r, http.StatusBadRequest, "password", view{Title: "password.title", Error: c.catalogs.text(lang, "password.rule.totp.secret"), Data: form})
			return
		}
		if key, err := totpQR(u.ID, form.TOTPSecret); err == nil {
			form.TOTPQR = key
		}
	}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("confirm") {
		c.render(w, r, http.StatusBadRequest, "password", view{Title: "password.title", Error: c.catalogs.text(lang, "password.mismatch"), Data: form})
		return
	}
	// Setting a password hashes it with argon2id in 19 MiB, as a sign-in
	// does, so it takes a slot of the same bound (maxSignInsAtOnce):
	// otherwise the holder of a live link could post its form as often
	// as they liked at once, each post a hash, until the memory ran out.
	select {
	case c.signIns <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		c.render(w, r, http.StatusServiceUnavailable, "password", view{Title: "password.title", Error: c.catalogs.text(lang, "signin.busy"), Data: form})
		return
	}
	_, err = func() (model.User, error) {
		defer func() { <-c.signIns }()
		return c.cfg.Passwords.SetPasswordWithLink(r.Context(), identity.SetPassword{
			LinkSecret: link, Password: password, TOTPSecret: form.TOTPSecret, TOTPCode: r.PostFormValue("code"), Client: c.clientIP(r),
		})
	}()
	var fe *model.FieldError
	switch {
	case errors.As(err, &fe):
		msg := c.catalogs.text(lang, "password.rule."+fe.Rule)
		if msg == "password.rule."+fe.Rule {
			msg = fe.Description
		}
		c.render(w, r, http.StatusBadRequest, "password", view{Title: "password.title", Error: msg, Data: form})
		return
	case err != nil:
		c.linkError(w, r, err)
		return
	}
	c.setCookie(w, preCookie, "", -1)
	c.setCookie(w, passwordSetCookie, "1", 300)
	http.Redirect(w, r, "/signin?set=1", http.StatusSeeOther)
}

func (c *Console) linkError(w http.ResponseWriter, r *http.Request, err error) {
	lang := c.language(r)
	if errors.Is(err, model.ErrNotFound) {
		c.render(w, r, http.StatusNotFound, "error", view{Title: "password.gone.title", Error: c.catalogs.text(lang, "password.gone")})
		return
	}
	c.cfg.Log.ErrorContext(r.Context(), "console: set password", "err", err)
	c.render(w, r, http.StatusInternalServerError, "error", view{Title: "error.internal.title", Error: c.catalogs.text(lang, "error.internal")})
}

// newTOTPSecret gives the form a new TOTP secret to enrol through link,
// with its QR code and its proof.
func (c *Console) newTOTPSecret(form *passwordForm, link string) error {
	key, err := identity.NewTOTPKey(form.User.ID)
	if err != nil {
		return err
	}
	form.TOTPSecret, form.TOTPProof, form.TOTPQR = key.Secret, c.totpProof(link, key.Secret), pngURL(key.QRPNG)
	return nil
}

// totpProof is what proves that the set-password page of link made the
// TOTP secret it posts: the secret rides in the form, and enrolling one
// the form was posted with would let a person (or whoever posts it) pick
// a well-known secret, whose codes anybody can compute.
func (c *Console) totpProof(link, secret string) string {
	m := hmac.New(sha256.New, c.enrolKey)
	m.Write([]byte(link))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// totpQR draws the QR code of a TOTP secret being enrolled again, after a
// refused attempt.
func totpQR(userID, secret string) (template.URL, error) {
	png, err := identity.TOTPQRCode(userID, secret)
	if err != nil {
		return "", err
	}
	return pngURL(png), nil
}

// pngURL is a PNG as a data: URL, which the CSP allows for images: the
// QR code never leaves the page as a file of its own.
func pngURL(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}
