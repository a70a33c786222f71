package web

import (
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"path"
	"testing"
)

// Every file under static/ is served with the console's own content type
// for its kind, and nosniff, whatever the machine's MIME tables say: here
// they say text/plain for every kind, as a Windows registry may for .js
// (which a browser told nosniff then refuses to run). A file of a kind
// this test does not know fails it, so a new kind gets its type in
// staticTypes and here.
func TestStaticFilesHaveTheConsolesOwnTypes(t *testing.T) {
	want := map[string]string{
		".css": "text/css; charset=utf-8",
		".js":  "text/javascript; charset=utf-8",
	}
	for ext := range want {
		system := mime.TypeByExtension(ext)
		if err := mime.AddExtensionType(ext, "text/plain"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mime.AddExtensionType(ext, system) })
	}
	c := testConsole(t)
	static, err := fs.Sub(files, "static")
	if err != nil {
		t.Fatal(err)
	}
	c.static = static
	h := c.Handler()
	served := 0
	err = fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		typ, ok := want[path.Ext(name)]
		if !ok {
			t.Errorf("static/%s: a kind of file with no content type known to this test", name)
			return nil
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/static/"+name, nil))
		body, _ := fs.ReadFile(static, name)
		if w.Code != http.StatusOK || w.Body.String() != string(body) {
			t.Errorf("GET /static/%s: %d, %d bytes; want 200 and the file's %d", name, w.Code, w.Body.Len(), len(body))
		}
		if got := w.Header().Get("Content-Type"); got != typ {
			t.Errorf("GET /static/%s: Content-Type %q, want %q", name, got, typ)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET /static/%s: X-Content-Type-Options %q, want nosniff", name, got)
		}
		served++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if served == 0 {
		t.Fatal("no file under static/ was served")
	}
}
