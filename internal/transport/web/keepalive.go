package web

import (
	"encoding/json"
	"net/http"
)

// keepAliveRoutes are the two requests a page's script makes so that a
// form being typed is not lost to the end of its session (console.js,
// keep): typing sends no request, and a hotline operator may type a
// report for longer than IdleTimeout.
func (c *Console) keepAliveRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /session/touch", c.touchSession)
	mux.HandleFunc("GET /session/token", c.sessionToken)
}

// touchSession is the page's note that the person is typing in a form:
// with that form's CSRF token, it marks the session used, as a click
// would, and answers 204. It never redirects, so that the script sees an
// ended session as such: 401 when the cookie names no live session
// (idle, signed out, from before a restart), 403 when the token is not
// the session's (this browser signed in again since the page was made).
// The 12-hour end of the session's token still comes: touching moves only
// the idle timeout.
func (c *Console) touchSession(w http.ResponseWriter, r *http.Request) {
	s := c.scriptSession(w, r)
	if s == nil {
		return
	}
	if !sameToken(r.PostFormValue("csrf"), s.csrf) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	// The session may have ended between the look and the touch; get
	// says so as it would for a page.
	if s, ended := c.sessions.get(s.id); s == nil {
		if ended != nil {
			c.endToken(r.Context(), ended)
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sessionToken answers the CSRF token of the browser's live session, and
// whose session it is, for a page made for an earlier session of this
// browser: after signing in again in another tab, the form typed before
// takes the new session's token, and the script sends it only if the
// session is of the same person. Every page of the session carries the
// token already; another site can neither send this request with the
// SameSite=Strict cookie nor read its answer. A request the browser says
// is not the console's own (Sec-Fetch-Site other than same-origin) is
// refused before the session is looked at: another site of the same
// domain sends the cookie, and the token must not rest on no browser
// ever letting such a page read the answer. Asking is not activity
// (peek): the save it comes before is.
func (c *Console) sessionToken(w http.ResponseWriter, r *http.Request) {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	s := c.scriptSession(w, r)
	if s == nil {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		CSRF string `json:"csrf"`
		User string `json:"user"`
	}{s.csrf, s.user.ID})
}

// scriptSession returns the browser's live session without marking it
// used, or answers 401 and returns nil. A cookie that names no live
// session is audited as on any page (refuseSession). The cookie is not
// cleared, unlike a page's redirect to sign in: the answer may come
// after the person signed in again in another tab, whose new cookie it
// would delete.
func (c *Console) scriptSession(w http.ResponseWriter, r *http.Request) *session {
	ck, err := r.Cookie(c.cookieName(sessionCookie))
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return nil
	}
	s, ended := c.sessions.peek(ck.Value)
	if ended != nil {
		c.endToken(r.Context(), ended)
	}
	if s == nil {
		c.refuseSession(r, ck.Value, ended)
		w.WriteHeader(http.StatusUnauthorized)
		return nil
	}
	return s
}
