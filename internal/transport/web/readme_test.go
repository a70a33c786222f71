package web

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	readmeScreenshot = regexp.MustCompile(`\]\(internal/transport/web/screenshots/([a-z-]+)\.png\)`)
	takenScreenshot  = regexp.MustCompile(`aveScreenshot\(t, ctx, "([a-z0-9-]+)"\)`)
)

// TestREADMEScreenshots: every screenshot the README shows is a PNG in
// screenshots/ that a browser test takes (by name, with SaveScreenshot),
// every screenshot a browser test takes is shown (the README's command
// would otherwise write a file it does not show), and no file there is
// left unshown.
func TestREADMEScreenshots(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var taken strings.Builder
	takenBy := map[string]string{} // screenshot name -> the test file that takes it
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		taken.Write(b)
		// browsertest's own test takes one into a temporary directory.
		if filepath.Base(filepath.Dir(path)) != "browsertest" {
			for _, m := range takenScreenshot.FindAllSubmatch(b, -1) {
				takenBy[string(m[1])] = path
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, m := range readmeScreenshot.FindAllStringSubmatch(string(readme), -1) {
		name := m[1]
		shown[name] = true
		b, err := os.ReadFile(filepath.Join("screenshots", name+".png"))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("README shows screenshots/%s.png, which is not a PNG here (%v)", name, err)
		}
		if !strings.Contains(taken.String(), `aveScreenshot(t, ctx, "`+name+`")`) {
			t.Errorf("README shows screenshots/%s.png, which no browser test takes", name)
		}
	}
	if len(shown) == 0 {
		t.Fatal("README shows no screenshot of the console")
	}
	for name, path := range takenBy {
		if !shown[name] {
			t.Errorf("%s takes the screenshot %s.png, which the README does not show", path, name)
		}
	}
	files, _ := filepath.Glob("screenshots/*.png")
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".png"); !shown[name] {
			t.Errorf("screenshots/%s.png is not shown in the README", name)
		}
	}
}
