package browsertest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScreenshots: a failed test's screen is saved to a file that
// outlives the test; a named screenshot goes into CHILDCASE_SCREENSHOTS.
func TestScreenshots(t *testing.T) {
	ctx := NewTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,<h1>x</h1>")); err != nil {
		t.Fatal(err)
	}
	file := saveFailure(t, ctx)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(file)) })
	if b, err := os.ReadFile(file); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("the failure's screenshot %q: %v", file, err)
	}
	dir := t.TempDir()
	t.Setenv("CHILDCASE_SCREENSHOTS", dir)
	SaveScreenshot(t, ctx, "named")
	if _, err := os.Stat(filepath.Join(dir, "named.png")); err != nil {
		t.Fatalf("named screenshot: %v", err)
	}
}
