package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// parsePages parses each page template under templates/ with the layout
// and the other shared parts under templates/parts/.
func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	pages, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	shared, err := fs.Glob(fsys, "templates/parts/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		t, err := template.New(path.Base(p)).ParseFS(fsys, append([]string{p}, shared...)...)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", p, err)
		}
		out[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return out, nil
}

// view is what every page template gets: the language and its texts, the
// signed-in user (nil on the sign-in pages), the CSRF token for its forms,
// and the page's own data.
type view struct {
	Lang string
	User *model.User
	CSRF string
	Path string // the page's path, for the navigation to mark
	// Back is the page's path and query, for the language switch to come
	// back to the same page: the same queue tab, period, filter or page
	// of a list.
	Back  string
	Title string // a catalog key
	Flash string // a catalog key of a message to show once, or ""
	Error string // an error to show, already in the language
	// ErrorDetail is the API's own words below Error, in a smaller line.
	ErrorDetail string
	Data        any
	Nav         []screen // the screens the user may use (set by render)
	// Now is the service's time when the page was made (set by render):
	// countdowns count from it, not from the browser's clock, which may
	// be wrong and is not the clock the deadlines run on.
	Now time.Time

	cats      catalogs
	unitNames func(string) string // names a unit for the signed-in person (set by render)
}

// Unit shows a unit by its name as the API's UnitService or
// PoliceUnitService gives it (unitLabel: "Phường Ba Đình", "Công an
// phường Ba Đình"), and an
// organisation ("Tổng đài 111") as the catalogs name it; a name none of
// them knows shows as it is.
func (v view) Unit(name string) string {
	if t, ok := v.cats[v.Lang]["admin.org."+name]; ok && strings.HasPrefix(name, "orgs/") {
		return t
	}
	if v.unitNames == nil || name == "" {
		return name
	}
	return v.unitNames(name)
}

// unitRef is a unit as a page names it (view.Unit) and its id.
type unitRef struct{ Name, ID string }

// UnitRef is a unit's name and id, for a page that shows both (the
// admin's, where an admin checks which unit a user or a police unit was
// given; "unitref").
func (v view) UnitRef(id string) unitRef { return unitRef{Name: v.Unit(id), ID: id} }

// UnitLabel names a unit the API listed (a form's choices) as view.Unit
// names it by its id.
func (v view) UnitLabel(u *pb.Unit) string { return unitLabel(u) }

// unitLabel is the one way the console names an administrative unit: by
// its full name, its type before its name ("Phường Ba Đình", "Quận Ba
// Đình"), as its name alone, "Ba Đình", may be the ward's or the old
// district's; by its name alone, then its id, where the API has no more.
func unitLabel(u *pb.Unit) string {
	for _, n := range []string{u.GetFullName(), u.GetDisplayName(), u.GetName()} {
		if n != "" {
			return n
		}
	}
	return ""
}

// Actor names who wrote a timeline line or an audit event: a person by
// their user name, as the API gives it, and the service's own lines (a
// deadline started, a warning, a breach, an escalation; on the audit page
// the first admin's creation, a migration) in the page's language, not by
// the service's user id, which stays in the audit page's filter.
func (v view) Actor(user string) string {
	if user == access.SystemUserID || user == "users/"+access.SystemUserID {
		return v.T("actor.system")
	}
	return user
}

// T returns the text of a catalog key in the page's language.
func (v view) T(key string, args ...any) string { return v.cats.text(v.Lang, key, args...) }

// Time shows a time in Vietnam time.
func (v view) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(vntime.Location()).Format("02/01/2006 15:04")
}

// Due shows a deadline's due time in Vietnam time. A deadline counted in
// days is due at 24:00 of its last day, which is 00:00 of the next: that
// is said as the end of the last day ("hết ngày 05/05/2026"), as the law
// and the people reading it count, not as a time on a day already past
// the limit. Any due time at midnight is the same instant, so it is said
// so whatever its clock.
func (v view) Due(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	local := t.In(vntime.Location())
	if local.Hour() != 0 || local.Minute() != 0 || local.Second() != 0 || local.Nanosecond() != 0 {
		return v.Time(t)
	}
	return v.T("time.day_end", local.Add(-time.Nanosecond).Format("02/01/2006"))
}

// ISO is a time as RFC 3339 in UTC, for the scripts' countdowns.
func (v view) ISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Other is the other language, for the switch.
func (v view) Other() string {
	if v.Lang == "vi" {
		return "en"
	}
	return "vi"
}

// render writes a page. The page is rendered into a buffer first, so a
// template error answers 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.cfg.Log.ErrorContext(r.Context(), "console: no such page", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v.Lang, v.cats, v.Path, v.Back = c.language(r), c.catalogs, r.URL.Path, r.URL.RequestURI()
	if v.User != nil {
		v.Nav = navFor(*v.User)
	}
	if s, ok := r.Context().Value(sessionKey{}).(*session); ok {
		v.unitNames = c.unitNamer(r, s)
	}
	if c.cfg.Clock != nil {
		v.Now = c.cfg.Clock.Now()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "console: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// unitNamer names units and police units for one page, asking the API
// once for each one the page shows (a page of cases shows few): reference
// data, read with the person's own token like everything else.
func (c *Console) unitNamer(r *http.Request, s *session) func(string) string {
	names := map[string]string{}
	return func(unit string) string {
		if n, ok := names[unit]; ok {
			return n
		}
		n := unit
		switch {
		case strings.HasPrefix(unit, "units/"):
			if u, err := c.api.units.GetUnit(c.apiContext(r, s), &pb.GetUnitRequest{Name: unit}); err == nil {
				n = unitLabel(u)
			}
		case strings.HasPrefix(unit, "policeUnits/"):
			if u, err := c.api.police.GetPoliceUnit(c.apiContext(r, s), &pb.GetPoliceUnitRequest{Name: unit}); err == nil && u.GetDisplayName() != "" {
				n = u.GetDisplayName()
			}
		}
		names[unit] = n
		return n
	}
}

// countdown is a deadline's time left as the page first shows it, on the
// service's clock; the script then keeps it running. Without the script
// the page still says how long is left and colours it.
type countdown struct {
	Text  string
	Class string // "ok", "amber" past the first warning point, "red" overdue
}

// Countdown is the time left until due (or how late), with its colour,
// in the words the script uses.
func (v view) Countdown(due, warn time.Time) countdown {
	left := due.Sub(v.Now)
	late := left < 0
	if late {
		left = -left
	}
	m := int(left / time.Minute)
	d, h, mins := m/1440, (m%1440)/60, m%60
	var b strings.Builder
	if d > 0 {
		fmt.Fprintf(&b, "%d %s ", d, v.T("countdown.days"))
	}
	if d > 0 || h > 0 {
		fmt.Fprintf(&b, "%d %s ", h, v.T("countdown.hours"))
	}
	fmt.Fprintf(&b, "%d %s", mins, v.T("countdown.minutes"))
	switch {
	case late:
		return countdown{Text: v.T("countdown.overdue") + " " + b.String(), Class: "red"}
	case !warn.IsZero() && !v.Now.Before(warn):
		return countdown{Text: strings.TrimSpace(b.String() + " " + v.T("countdown.left")), Class: "amber"}
	}
	return countdown{Text: strings.TrimSpace(b.String() + " " + v.T("countdown.left")), Class: "ok"}
}

// Named shows a code by its catalog text under prefix ("role.",
// "audit.outcome."), or as it is when the catalogs have none.
func (v view) Named(prefix, code string) string {
	if t, ok := v.cats[v.Lang][prefix+code]; ok {
		return t
	}
	return code
}

// Code shows a code the API documents (a plan's state, a referral's) by
// its catalog text, or as it is when the catalogs have none.
func (v view) Code(code string) string {
	if t, ok := v.cats[v.Lang]["code."+code]; ok {
		return t
	}
	return code
}
