package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
)

// Cookie names. Every cookie of the console is HttpOnly and
// SameSite=Strict, and under TLS Secure and __Host- prefixed (setCookie);
// the pre-session cookie carries the CSRF token of the sign-in form,
// before there is a session to hold it.
const (
	sessionCookie = "childcase_session"
	preCookie     = "childcase_pre"
	langCookie    = "childcase_lang"
	// passwordSetCookie marks the browser that has just set a password through
	// its link, for the sign-in page to say so once: a link to
	// /signin?set=1 alone does not make it say that.
	passwordSetCookie = "childcase_set"
)

// session is a signed-in person. Its id (the cookie) and its CSRF token
// are random; its bearer token never leaves the server.
type session struct {
	id       string
	csrf     string
	user     model.User
	bearer   string
	tokenID  string
	lastSeen time.Time
	expires  time.Time // the token's expiry; zero: none
	// ended is closed when the session ends (sign-out, idle timeout,
	// eviction), so that its open event stream ends with it; why says
	// which, for the audit event of its end (set before ended closes).
	ended chan struct{}
	why   string

	savesMu sync.Mutex
	saves   []savedAnswer // the last maxSavesPerSession of each kind (done or not), oldest first
}

// maxSavesPerSession bounds the saves a session remembers for their
// confirmations: an operator reads the newest one to the caller; and,
// apart, the case steps and links it remembers for their "saved".
const maxSavesPerSession = 20

// savedAnswer is what a save of this session was answered: only its
// confirmation says "Đã lưu", so no link can make a page say it.
type savedAnswer struct {
	id         string // random: the confirmation's address
	requestID  string // the form's: a retry of the same save finds it
	report     string // "reports/{id}"; "" for a police receipt
	caseNumber string
	candidates []string // case numbers
	// done is the step ("AcknowledgeCase") of a case step this session
	// took, or "link" for a report it attached to a case: such an answer
	// is no report's confirmation, and only makes the page it sends the
	// browser to say "Đã ghi" (saved) or "attached" (doneFlash).
	done string
}

// remember keeps a save's answer and returns its id; a retry of a save
// (the same request id) keeps the first one's id, so every retry lands on
// the same confirmation.
func (s *session) remember(a savedAnswer) string {
	s.savesMu.Lock()
	defer s.savesMu.Unlock()
	for i, o := range s.saves {
		if o.requestID == a.requestID {
			a.id = o.id
			s.saves[i] = a
			return a.id
		}
	}
	a.id = randomToken()
	// Confirmations and the marks of steps and links (done) are bounded
	// apart: a worker's steps do not push out the confirmation of the
	// report they filed before.
	kind := func(o savedAnswer) bool { return (o.done == "") == (a.done == "") }
	if i := slices.IndexFunc(s.saves, kind); i >= 0 && countFunc(s.saves, kind) >= maxSavesPerSession {
		s.saves = slices.Delete(s.saves, i, i+1)
	}
	s.saves = append(s.saves, a)
	return a.id
}

func countFunc[E any](s []E, f func(E) bool) int {
	n := 0
	for _, e := range s {
		if f(e) {
			n++
		}
	}
	return n
}

// recall returns the answer of one of this session's saves.
func (s *session) recall(id string) (savedAnswer, bool) {
	s.savesMu.Lock()
	defer s.savesMu.Unlock()
	for _, a := range s.saves {
		if sameToken(a.id, id) {
			return a, true
		}
	}
	return savedAnswer{}, false
}

// doneFlash is what the page of a case or a report says after this
// session's step on it or link of it (the catalog key), when done (the
// page's ?done=) is the id of that save: a link cannot make a page say
// that something was saved, nor can another session's page.
func (s *session) doneFlash(done, caseNumber, report string) string {
	if done == "" {
		return ""
	}
	a, ok := s.recall(done)
	switch {
	case !ok:
		return ""
	case a.done == "link" && report != "" && a.report == report:
		return "link.done"
	case a.done != "" && a.done != "link" && caseNumber != "" && a.caseNumber == caseNumber:
		return "case.saved"
	}
	return ""
}

// sessionStore holds the sessions in memory: a restart signs everyone
// out, which is the safe way to fail on a shared computer.
type sessionStore struct {
	clock   clock.Clock
	idle    time.Duration
	max     int // sessions in all
	perUser int // sessions of one account

	mu   sync.Mutex
	byID map[string]*session
	// lapsed are the ids of the sessions that ended idle or at their
	// token's expiry, with when, for lapsedFor (at most max of them): a
	// cookie of one that comes back is refused as an ended session, also
	// once the minute sweep (expire) has ended it before its browser came
	// back, not as a cookie the console never issued.
	lapsed map[string]time.Time
}

// lapsedFor is how long an idle or expired session's id is known as
// such: its cookie lives as long as the browser stays open.
const lapsedFor = 24 * time.Hour

func newSessionStore(clk clock.Clock, idle time.Duration, max, perUser int) *sessionStore {
	return &sessionStore{clock: clk, idle: idle, max: max, perUser: perUser, byID: map[string]*session{}, lapsed: map[string]time.Time{}}
}

// randomToken returns 256 random bits, URL-safe.
// wellFormedToken tells whether s could be a token randomToken made: a
// cookie that holds anything else was not ours.
func wellFormedToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// add starts a session for an account. An account already holding
// MaxSessionsPerUser sessions ends its own session idle the longest; else,
// when the store is full, the session idle the longest ends. The caller
// must sign the ended session out. So one account signing in over and
// over ends only its own sessions: signing a chosen person out this way
// would take MaxSessions/MaxSessionsPerUser accounts, and even then ends
// the sessions idle the longest, not that person's.
func (st *sessionStore) add(a Account) (s, evicted *session) {
	s = &session{id: randomToken(), csrf: randomToken(), user: a.User, bearer: a.Bearer, tokenID: a.TokenID, lastSeen: st.clock.Now(),
		expires: a.Expires, ended: make(chan struct{})}
	st.mu.Lock()
	defer st.mu.Unlock()
	var own, oldest *session
	owned := 0
	for _, o := range st.byID {
		if o.user.ID == a.User.ID {
			owned++
			if own == nil || o.lastSeen.Before(own.lastSeen) {
				own = o
			}
		}
		if oldest == nil || o.lastSeen.Before(oldest.lastSeen) {
			oldest = o
		}
	}
	switch {
	case owned >= st.perUser:
		evicted = own
		st.end(evicted, fmt.Sprintf("ended by a newer sign-in of the account, which holds %d sessions at most", st.perUser))
	case len(st.byID) >= st.max:
		evicted = oldest
		st.end(evicted, fmt.Sprintf("ended by a sign-in of %s: the console holds %d sessions at most", model.UserName(a.User.ID), st.max))
	}
	st.byID[s.id] = s
	return s, evicted
}

// get returns the live session of an id and marks it used; an idle or
// expired one is ended and returned as ended so its token can be revoked.
func (st *sessionStore) get(id string) (s, ended *session) { return st.lookup(id, true) }

// peek is get without marking the session used: what the page does by
// itself (its event stream, the live refresh of its queue) is not the
// person's activity, so it must not hold a session open past the idle
// timeout on a computer left alone.
func (st *sessionStore) peek(id string) (s, ended *session) { return st.lookup(id, false) }

func (st *sessionStore) lookup(id string, touch bool) (s, ended *session) {
	now := st.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s = st.byID[id]
	if s == nil {
		return nil, nil
	}
	if why, over := st.over(s, now); over {
		st.lapse(s, why, now)
		return nil, s
	}
	if touch {
		s.lastSeen = now
	}
	return s, nil
}

// end removes a session from the store, notes why it ended and closes
// its ended channel. The caller holds st.mu; a session is ended once, as
// it leaves the map once.
func (st *sessionStore) end(s *session, why string) {
	delete(st.byID, s.id)
	s.why = why
	close(s.ended)
}

// lapse ends a session that ended by itself (idle, or at its token's
// expiry) and remembers its id as such, for lapsedFor. The caller holds
// st.mu.
func (st *sessionStore) lapse(s *session, why string, now time.Time) {
	st.end(s, why)
	if len(st.lapsed) >= st.max {
		var oldest string
		for id, at := range st.lapsed {
			if oldest == "" || at.Before(st.lapsed[oldest]) {
				oldest = id
			}
		}
		delete(st.lapsed, oldest)
	}
	st.lapsed[s.id] = now
}

// lapsedSession reports whether id is of a session that ended idle or at
// its token's expiry (in the last lapsedFor).
func (st *sessionStore) lapsedSession(id string) bool {
	now := st.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	at, ok := st.lapsed[id]
	return ok && now.Sub(at) < lapsedFor
}

// idleWhy is why a session nobody used for st.idle ended.
func (st *sessionStore) idleWhy() string { return fmt.Sprintf("ended after %s without use", st.idle) }

// remove ends a session (a sign-out, or why) and returns it.
func (st *sessionStore) remove(id, why string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.byID[id]
	if s != nil {
		st.end(s, why)
	}
	return s
}

// removeTokens ends the sessions whose tokens are among tokenIDs, saying
// why.
func (st *sessionStore) removeTokens(tokenIDs []string, why string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range st.byID {
		if slices.Contains(tokenIDs, s.tokenID) {
			st.end(s, why)
		}
	}
}

// expire ends every idle session and returns them, and forgets the
// sessions that lapsed over lapsedFor ago.
func (st *sessionStore) expire() []*session {
	now := st.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, at := range st.lapsed {
		if now.Sub(at) >= lapsedFor {
			delete(st.lapsed, id)
		}
	}
	var out []*session
	for _, s := range st.byID {
		if why, over := st.over(s, now); over {
			st.lapse(s, why, now)
			out = append(out, s)
		}
	}
	return out
}

// expiredWhy is why a session whose token expired ended.
const expiredWhy = "ended at its token's expiry"

// over reports whether a session is over at now, and why: for what came
// first, its token's expiry or its idle timeout, so that the audit trail
// says how it ended, whenever it is found over.
func (st *sessionStore) over(s *session, now time.Time) (why string, over bool) {
	idleAt := s.lastSeen.Add(st.idle)
	expired := !s.expires.IsZero() && !now.Before(s.expires)
	switch {
	case expired && s.expires.Before(idleAt):
		return expiredWhy, true
	case !now.Before(idleAt):
		return st.idleWhy(), true
	case expired:
		return expiredWhy, true
	}
	return "", false
}

// endAll ends every session, saying why, and returns them.
func (st *sessionStore) endAll(why string) []*session {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []*session
	for _, s := range st.byID {
		st.end(s, why)
		out = append(out, s)
	}
	return out
}

// sameToken compares two tokens in constant time; an empty one never
// matches.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookieName is the name the console's own cookie has on the wire: under
// TLS with the __Host- prefix, which a browser takes only from this very
// origin over HTTPS, Secure, on the path / and with no Domain, so that no
// sibling host or plain-HTTP page can plant or overwrite it.
func (c *Console) cookieName(name string) string {
	if c.cfg.SecureCookies {
		return "__Host-" + name
	}
	return name
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}
