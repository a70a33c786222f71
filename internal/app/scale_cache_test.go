package app_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/childcase/childcase/internal/app"
)

// Two runs that build the same scale database at once (two benchmark
// commands, or two people sharing CHILDCASE_SCALE_DIR) must each end with
// a database and the manifest written with it. They once shared one
// build directory: the second run emptied the first's, the first then
// wrote its manifest into the second's (whose database refused its
// tokens) or failed on the path renamed away under it. Here the second
// build runs, start to finish, while the first is half done: a fake load
// writes a database and then its manifest, each marked with the build's
// name.
func TestScaleDBCacheBuildsOverlap(t *testing.T) {
	dir := t.TempDir()
	fakeLoad := func(mark string, meanwhile func()) func(app.LoadConfig) error {
		return func(cfg app.LoadConfig) error {
			if err := os.WriteFile(cfg.DBPath, []byte(mark), 0o600); err != nil {
				return err
			}
			meanwhile()
			raw, err := json.Marshal(app.LoadManifest{Cases: cfg.Cases, Users: map[string]app.LoadUser{"admin": {Token: mark}}})
			if err != nil {
				return err
			}
			return os.WriteFile(cfg.DBPath+".load.json", raw, 0o600)
		}
	}
	type built struct {
		db string
		m  app.LoadManifest
	}
	var second built
	var secondErr error
	db, m, err := cachedScaleDB(dir, 5, fakeLoad("first", func() {
		second.db, second.m, secondErr = cachedScaleDB(dir, 5, fakeLoad("second", func() {}))
	}))
	for i, b := range []struct {
		built
		err error
	}{{built{db, m}, err}, {second, secondErr}} {
		if b.err != nil {
			t.Errorf("build %d: %v", i+1, b.err)
			continue
		}
		raw, err := os.ReadFile(b.db)
		if err != nil {
			t.Errorf("build %d: %v", i+1, err)
			continue
		}
		if got := b.m.Users["admin"].Token; got != string(raw) {
			t.Errorf("build %d: the manifest of %s comes from the %q build, its database from the %q one", i+1, b.db, got, raw)
		}
	}
	if err == nil && secondErr == nil && db != second.db {
		t.Errorf("the two builds returned %s and %s, want one cached database", db, second.db)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 {
		t.Errorf("the cache holds %v, want only the finished database's directory", names)
	}
}
