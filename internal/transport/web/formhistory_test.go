package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestFormsKeepNoHistoryInTheBrowser: the console runs on shared office
// computers, and a browser keeps what is typed in a form's text fields to
// offer it again in any field of the same name: the next person to type
// in an intake's child's name would be offered the last children's
// names, phones and addresses. Every form says autocomplete="off", but
// the sign-in's, whose user name the browser may offer (its password
// field says current-password, for a password manager, not the history).
func TestFormsKeepNoHistoryInTheBrowser(t *testing.T) {
	formTag := regexp.MustCompile(`<form\b[^>]*>`)
	checked := 0
	err := fs.WalkDir(files, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".html") {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		for _, tag := range formTag.FindAllString(string(b), -1) {
			checked++
			if name == "templates/signin.html" {
				continue
			}
			if !strings.Contains(tag, `autocomplete="off"`) {
				t.Errorf("%s: %s keeps what is typed in the browser's history (no autocomplete=\"off\")", name, tag)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("found %d forms in the templates; the test no longer finds them", checked)
	}
}

// The intake form, as a person gets it, asks for no history of what is
// typed in it: the template check above holds for the page served.
func TestIntakePageKeepsNoHistory(t *testing.T) {
	client, base := consoleOver(t, &flakyReports{})
	page := fetch(t, client, base+"/reports/new", nil)
	tag := regexp.MustCompile(`<form\b[^>]*action="/reports/new"[^>]*>`).FindString(page)
	if tag == "" {
		t.Fatalf("no intake form in the page:\n%s", page)
	}
	if !strings.Contains(tag, `autocomplete="off"`) {
		t.Errorf("the intake form %s lets the browser keep the children's names typed in it", tag)
	}
}
