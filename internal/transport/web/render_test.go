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
