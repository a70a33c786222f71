package web

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
)

func testConsole(t *testing.T) *Console {
	t.Helper()
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := parsePages(files)
	if err != nil {
		t.Fatal(err)
	}
	return &Console{cfg: Config{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}, pages: pages, catalogs: cats}
}

func TestSignInPageRenders(t *testing.T) {
	c := testConsole(t)
	w := httptest.NewRecorder()
	c.render(w, httptest.NewRequest("GET", "/signin", nil), 200, "signin", view{Title: "signin.title", Data: signInForm{Pre: "x"}})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// An organisation (the hotline, the social work centre, the system) is
// named as the admin's form names it, as units are by their names: the
// audit page showed "orgs/hotline-111".
func TestOrganisationsAreNamed(t *testing.T) {
	c := testConsole(t)
	for _, lang := range languages {
		for _, org := range adminOrgs {
			v := view{Lang: lang, cats: c.catalogs, unitNames: func(n string) string { return n }}
			if got, want := v.Unit(org), c.catalogs.text(lang, "admin.org."+org); got != want {
				t.Errorf("%s: %s is shown as %q, want %q", lang, org, got, want)
			}
		}
	}
}
