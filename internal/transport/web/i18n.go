package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
)

// Languages the console speaks, Vietnamese first: it is the default.
var languages = []string{"vi", "en"}

// catalogs maps a language to its messages, each a key to a text.
// Every text of the console is in them; a test checks that the languages
// have the same keys and that every key a template uses exists.
type catalogs map[string]map[string]string

func loadCatalogs(fsys fs.FS) (catalogs, error) {
	cats := catalogs{}
	for _, lang := range languages {
		b, err := fs.ReadFile(fsys, "i18n/"+lang+".json")
		if err != nil {
			return nil, fmt.Errorf("web: catalog %s: %w", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("web: catalog %s: %w", lang, err)
		}
		cats[lang] = m
	}
	return cats, nil
}

// text returns a message in a language, formatted with args; a missing
// key shows as itself so that it is seen and fixed, never as blank.
func (cs catalogs) text(lang, key string, args ...any) string {
	s, ok := cs[lang][key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// language is the request's language: the language cookie's, under its
// name on the wire (cookieName: under TLS only the __Host- one, which no
// sibling host or plain-HTTP page can plant), or Vietnamese.
func (c *Console) language(r *http.Request) string {
	if ck, err := r.Cookie(c.cookieName(langCookie)); err == nil && slices.Contains(languages, ck.Value) {
		return ck.Value
	}
	return languages[0]
}
