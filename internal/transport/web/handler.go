package web

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/childcase/childcase/internal/transport/clientaddr"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// ContentSecurityPolicy lets pages load scripts, styles and images from
// our origin only, with no inline script or style, and post forms only to
// us; the console is never framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler returns the console's routes. It is mounted at "/" beside the
// REST API, which keeps "/v1/", "/openapi.json" and "/healthz".
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/", c.serveStatic)
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /signin", c.signInPage)
	mux.HandleFunc("POST /signin", c.signIn)
	mux.HandleFunc("POST /signout", c.signed(c.signOut))
	mux.HandleFunc("GET /lang/{lang}", c.switchLanguage)
	mux.HandleFunc("GET /queues", c.signed(c.queues))
	c.passwordRoutes(mux)
	c.intakeRoutes(mux)
	c.caseRoutes(mux)
	c.eventRoutes(mux)
	c.dashRoutes(mux)
	c.keepAliveRoutes(mux)
	mux.HandleFunc("/", c.unknownPath(mux))

	// Cross-origin unsafe requests are refused before any handler, on top
	// of each form's CSRF token and the SameSite=Strict cookies, with the
	// console's own page: the standard library's refusal is a line of
	// English plain text.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(c.crossOrigin))
	return consoleHeaders(cop.Handler(c.validInput(mux)))
}

// crossOrigin answers a form posted from another site: refused, in the
// page's language, and nothing was done. The session is not looked up:
// the request is not the person's own.
func (c *Console) crossOrigin(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusForbidden, "error", view{Title: "error.forbidden.title", Error: c.catalogs.text(c.language(r), "error.crossorigin")})
}

// validInput refuses a request whose path, query or form is not UTF-8
// text, whose form cannot be read (past the body limit, too many
// fields), or whose form sends a field twice that the console's forms
// send once (repeatableFields), before any handler: the API cannot carry such a string (the
// call would fail as an internal error), and a handler that reads a form
// value only when it needs it would otherwise go on without it. Forms are
// URL-encoded; a multipart body is not read at all.
func (c *Console) validInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := c.language(r)
		refuse := func(status int, msg string) {
			c.render(w, r, status, "error", view{Title: "error.request.title", Error: msg})
		}
		if !utf8.ValidString(r.URL.Path) {
			refuse(http.StatusBadRequest, c.catalogs.text(lang, "error.request.utf8.path"))
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			refuse(http.StatusUnsupportedMediaType, c.catalogs.text(lang, "error.request.body"))
			return
		}
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			refuse(status, c.catalogs.text(lang, "error.request.body"))
			return
		}
		for k, vs := range r.Form {
			if !utf8.ValidString(k) || slices.ContainsFunc(vs, notUTF8) {
				refuse(http.StatusBadRequest, c.catalogs.text(lang, "error.request.utf8", strings.ToValidUTF8(k, "\uFFFD")))
				return
			}
		}
		for k, vs := range r.PostForm {
			if len(vs) > 1 && !c.repeatable[rowless(k)] {
				refuse(http.StatusBadRequest, c.catalogs.text(lang, "error.request.repeated", k))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// repeatableFields are the fields of the console's forms a browser may
// send more than once, by their names without row numbers (rowless): the
// check boxes of a group and a multiple select. Every other field is
// sent once by the forms, so a form that repeats one was made by hand,
// and taking one of its values would write what nobody can tell was
// meant (a note's first text, a step's first etag): it is refused,
// naming the field.
func repeatableFields() map[string]bool {
	out := map[string]bool{"covers": true, "suspected_abuse": true, "special_circumstances": true}
	var walk func(md protoreflect.MessageDescriptor, prefix string)
	walk = func(md protoreflect.MessageDescriptor, prefix string) {
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			name := prefix + string(fd.Name())
			switch {
			case fd.Kind() == protoreflect.EnumKind && fd.IsList():
				out[name] = true
			case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() != "google.protobuf.Timestamp":
				if fd.IsList() {
					name += "[]"
				}
				walk(fd.Message(), name+".")
			}
		}
	}
	for _, m := range caseSteps() {
		walk(m.Input(), "")
	}
	return out
}

// rowless is a field's name without its row numbers:
// "services[0].groups" is "services[].groups".
func rowless(name string) string { return rowNumber.ReplaceAllString(name, "[]") }

var rowNumber = regexp.MustCompile(`\[[0-9]+\]`)

func notUTF8(s string) bool { return !utf8.ValidString(s) }

func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Nothing of a case may stay in a shared computer's cache.
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

// signed runs h for a signed-in person, and sends anyone else to the
// sign-in page. For a POST it also checks the form's CSRF token. The
// request marks the session used, unless the page's script made it by
// itself (liveHeader).
func (c *Console) signed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return c.signedAs(false, h)
}

// signedPassive is signed for a route only a page's script asks for by
// itself and cannot mark with liveHeader (the event stream, which the
// browser's EventSource opens and reopens after every cut with no header
// of ours): it never marks the session used, so a page left open does
// not hold its session past the idle timeout.
func (c *Console) signedPassive(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return c.signedAs(true, h)
}

func (c *Console) signedAs(passive bool, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *session
		ck, err := r.Cookie(c.cookieName(sessionCookie))
		if err == nil {
			var ended *session
			if passive || r.Header.Get(liveHeader) != "" {
				s, ended = c.sessions.peek(ck.Value)
			} else {
				s, ended = c.sessions.get(ck.Value)
			}
			if ended != nil {
				c.endToken(r.Context(), ended)
			}
			if s == nil {
				c.refuseSession(r, ck.Value, ended)
			}
		}
		if s == nil {
			// Only a cookie the browser sent is cleared. A request without
			// one may be a link of another site, which the SameSite=Strict
			// cookie does not go with: clearing it then would sign out,
			// on another site's word, the session the browser's other
			// tabs still hold.
			if ck != nil {
				c.setCookie(w, sessionCookie, "", -1)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameToken(r.PostFormValue("csrf"), s.csrf) {
			c.forbidden(w, r, s)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)), s)
	}
}

// apiContext is the context of an API call made for a session: the
// session's token, and the client's address for the audit.
func (c *Console) apiContext(r *http.Request, s *session) context.Context {
	md := metadata.Pairs("authorization", "Bearer "+s.bearer, "x-forwarded-for", c.clientIP(r))
	// Only an id the API would take: gRPC metadata cannot carry every
	// byte a header may hold (a call with one fails), and the API makes
	// an id of its own for any other.
	if id := r.Header.Get(grpcapi.RequestIDHeader); grpcapi.WellFormedRequestID(id) {
		md.Set(grpcapi.RequestIDHeader, id)
	}
	return metadata.NewOutgoingContext(r.Context(), md)
}

// clientIP names the client as the API does (clientaddr): the HTTP
// connection's peer or, when that peer is a trusted proxy, the address
// the proxies saw. The API behind the in-process connection takes the
// last x-forwarded-for entry as the client, so this one is what it audits.
func (c *Console) clientIP(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	var hops []string
	if len(c.cfg.TrustedProxies) > 0 {
		hops = clientaddr.Hops(r.Header.Values("X-Forwarded-For"))
	}
	return clientaddr.Resolve(append(hops, peer), c.cfg.TrustedProxies)
}

// localPath accepts only a path of this site as a place to go back to,
// so that no link can send a person elsewhere after signing in. A browser
// drops tabs and newlines from a URL and reads a backslash as a slash, so
// "/\t/evil" and "/\\evil" are "//evil", another site: a path with a
// control character or a backslash anywhere is refused, not only at its
// start.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsFunc(p, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return "/"
	}
	return p
}

// refuseSession audits a request whose session cookie (id) names no live
// session: ended, when its session ended idle or at its token's expiry
// (just now, or before: the minute sweep ends most idle sessions before
// their browser comes back), or else one the console does not hold
// (forged, or from before a restart, or signed out). The cookie is in no
// event. A request without the cookie is no refusal: the sign-in page is
// where a person starts.
func (c *Console) refuseSession(r *http.Request, id string, ended *session) {
	if c.cfg.Refusals == nil {
		return
	}
	why := "unknown console session"
	if ended != nil || c.sessions.lapsedSession(id) {
		why = "console session ended (idle or expired)"
	}
	c.cfg.Refusals.RefuseSession(r.Context(), c.clientIP(r), why)
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.cookieName(sessionCookie)); err == nil {
		s, ended := c.sessions.get(ck.Value)
		if s != nil {
			http.Redirect(w, r, startPage(s.user), http.StatusSeeOther)
			return
		}
		if ended != nil {
			c.endToken(r.Context(), ended)
		}
		c.refuseSession(r, ck.Value, ended)
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// crossSite tells whether the browser says a request is not the
// console's own (Sec-Fetch-Site cross-site, or same-site: a sibling host
// of the domain, which http.CrossOriginProtection refuses too): a link or
// a page of another site. An address typed or bookmarked says "none",
// and is the person's own; a request without the header (a browser too
// old to send it, a script) is taken as the console's own, as
// CrossOriginProtection takes it.
func crossSite(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	return site != "" && site != "same-origin" && site != "none"
}

// askedAgainFromHere answers a page that a link of another site asked for
// with the same address asked again from the console itself, and reports
// whether it did. Such a request carries none of the console's
// SameSite=Strict cookies, so a page that sets one (the pre-session token
// of the sign-in and password forms, preToken) would replace the token of
// a form open in another tab, on another site's word. The browser asks
// again at once (Refresh), or at a click on the page's link; that
// request is the console's own, and carries the cookie, which is kept.
func (c *Console) askedAgainFromHere(w http.ResponseWriter, r *http.Request) bool {
	if !crossSite(r) {
		return false
	}
	again := localPath(r.URL.RequestURI())
	w.Header().Set("Refresh", "0; url="+again)
	c.render(w, r, http.StatusOK, "again", view{Title: "again.title", Data: again})
	return true
}

// seeOther answers a GET of a path that only a form posts to (where the
// form's answer was shown) by sending the person to the page it belongs to.
func seeOther(to func(*http.Request) string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, to(r), http.StatusSeeOther)
	}
}

// switchLanguage keeps the person's choice of language for a year. Only
// the console's own link makes it: a link of another site (crossSite) is
// refused, and changes nothing.
func (c *Console) switchLanguage(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		c.render(w, r, http.StatusForbidden, "error", view{Title: "error.forbidden.title", Error: c.catalogs.text(c.language(r), "error.crosslink")})
		return
	}
	lang := r.PathValue("lang")
	if lang == "vi" || lang == "en" {
		c.setCookie(w, langCookie, lang, 365*24*3600)
	}
	http.Redirect(w, r, localPath(r.URL.Query().Get("back")), http.StatusSeeOther)
}

// staticTypes is the content type of each kind of file under static/:
// the console's own, not the system's MIME tables (mime.TypeByExtension),
// which differ between machines (one answers application/javascript
// for .js, a Windows registry text/plain, which a browser told nosniff
// refuses to run as a script). A file of a kind not listed is not served.
var staticTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
}

// serveStatic answers a file under static/ whole, with its type from
// staticTypes (and, as every answer, nosniff), and anything else (a
// directory, a missing file) with the console's not-found page: the file
// server's own errors (404, 416 for a range past the end) drop the
// Cache-Control header, and it lists directories.
func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	typ, known := staticTypes[path.Ext(name)]
	b, err := fs.ReadFile(c.static, name)
	if err != nil || !known {
		c.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	_, _ = w.Write(b)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusNotFound, "error", view{Title: "error.notfound.title", Error: c.catalogs.text(c.language(r), "error.notfound")})
}

// unknownPath answers what no route of mux takes: a path the console has
// asked for with a method it does not answer is 405, with the methods it
// does in Allow (the catch-all "/" route would otherwise make it look
// missing); any other is not found. For a person whose session is live
// it is in their layout, with their navigation and the sign-out button,
// so that a mistyped address does not look signed out on a shared
// computer. It is not the person's activity (peek).
func (c *Console) unknownPath(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if ck, err := r.Cookie(c.cookieName(sessionCookie)); err == nil {
			var ended *session
			s, ended = c.sessions.peek(ck.Value)
			if ended != nil {
				c.endToken(r.Context(), ended)
			}
			if s != nil {
				r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
			}
		}
		allow := allowedMethods(mux, r)
		switch {
		case len(allow) > 0:
			w.Header().Set("Allow", strings.Join(allow, ", "))
			c.methodNotAllowed(w, r, s)
		case s != nil:
			c.notFoundFor(w, r, s)
		default:
			c.notFound(w, r)
		}
	}
}

// routedMethods are the methods a console route may take: GET (which
// also answers HEAD) and POST; the others are probed so that a route
// added with one is not refused as missing.
var routedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods are the methods a route of mux other than the catch-all
// "/" takes on r's path, none when the console does not have the path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range routedMethods {
		probe := *r
		probe.Method = m
		if _, pattern := mux.Handler(&probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// methodNotAllowed is the page of a method the path does not take, in
// the person's layout when s is their live session.
func (c *Console) methodNotAllowed(w http.ResponseWriter, r *http.Request, s *session) {
	v := view{Title: "error.method.title", Error: c.catalogs.text(c.language(r), "error.method")}
	if s != nil {
		v.User, v.CSRF = &s.user, s.csrf
	}
	c.render(w, r, http.StatusMethodNotAllowed, "error", v)
}

// notFoundFor is the not-found page of a signed-in person, in their
// layout.
func (c *Console) notFoundFor(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, http.StatusNotFound, "error", view{User: &s.user, CSRF: s.csrf, Title: "error.notfound.title", Error: c.catalogs.text(c.language(r), "error.notfound")})
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, http.StatusForbidden, "error", view{User: &s.user, CSRF: s.csrf, Title: "error.forbidden.title", Error: c.catalogs.text(c.language(r), "error.forbidden")})
}

// refused answers a call the session's role may not make, which was sent
// to the API so that the API refuses and audits it: with the API's
// answer, or as forbidden should the API not have refused it.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	c.forbidden(w, r, s)
}

// apiError answers a failed API call as a page: a gone session signs the
// person out, an out-of-scope record is not found (as the API says), and
// a refusal is said in the catalog's words (refusal.go), and anything
// else is an internal error.
func (c *Console) apiError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	st, _ := status.FromError(err)
	lang := c.language(r)
	switch st.Code() {
	case codes.Unauthenticated:
		c.sessions.remove(s.id, "its token no longer signs in")
		c.setCookie(w, sessionCookie, "", -1)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	case codes.NotFound:
		c.notFoundFor(w, r, s)
	case codes.PermissionDenied:
		c.forbidden(w, r, s)
	case codes.InvalidArgument, codes.FailedPrecondition, codes.Aborted, codes.AlreadyExists, codes.ResourceExhausted:
		said, _ := c.catalogs.refused(lang, err)
		c.render(w, r, http.StatusBadRequest, "error", view{User: &s.user, CSRF: s.csrf, Title: "error.request.title", Error: said.Text, ErrorDetail: said.Detail})
	default:
		if errors.Is(err, context.Canceled) {
			return
		}
		c.cfg.Log.ErrorContext(r.Context(), "console: api call", "err", err)
		c.render(w, r, http.StatusInternalServerError, "error", view{User: &s.user, CSRF: s.csrf, Title: "error.internal.title", Error: c.catalogs.text(lang, "error.internal")})
	}
}
