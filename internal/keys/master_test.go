package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustMaster(t testing.TB) MasterKey {
	t.Helper()
	m, err := GenerateMaster()
	if err != nil {
		t.Fatalf("GenerateMaster: %v", err)
	}
	return m
}

// fixedMaster is the master key with bytes 00..1f.
func fixedMaster() MasterKey {
	return masterFromKey([32]byte(testKey(0)))
}

// writeKeyFile writes content to a new file in a fresh directory and sets
// its mode explicitly, so the test does not depend on the umask.
func writeKeyFile(t *testing.T, content string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerateMaster(t *testing.T) {
	a, b := mustMaster(t), mustMaster(t)
	if a.ID() == b.ID() {
		t.Fatalf("two generated masters share id %s", a.ID())
	}
	if a == b {
		t.Fatal("two generated masters are equal")
	}
	for _, m := range []MasterKey{a, b} {
		if len(m.ID()) != 16 {
			t.Errorf("id %q is %d characters, want 16", m.ID(), len(m.ID()))
		}
		if _, err := hex.DecodeString(m.ID()); err != nil {
			t.Errorf("id %q is not hex: %v", m.ID(), err)
		}
		if m.key == [32]byte{} {
			t.Error("generated key is all zeros")
		}
	}
}

// TestMasterKnownAnswers pins the id and the check value for the key 00..1f
// to values computed independently (Python hashlib and hmac). Both are
// stored in databases and must never change.
func TestMasterKnownAnswers(t *testing.T) {
	m := fixedMaster()
	if got, want := m.ID(), "630dcd2966c43366"; got != want {
		t.Errorf("ID() = %s, want %s", got, want)
	}
	want := "38688b6dc3d050b1b4a048154e2d8d4d940abfa578c9053aa0dd442f5adf19ff"
	if got := hex.EncodeToString(m.CheckValue()); got != want {
		t.Errorf("CheckValue() = %s, want %s", got, want)
	}
}

func TestCheckValue(t *testing.T) {
	a, b := mustMaster(t), mustMaster(t)
	cvA := a.CheckValue()
	if len(cvA) != 32 {
		t.Fatalf("check value is %d bytes, want 32", len(cvA))
	}
	if !bytes.Equal(cvA, a.CheckValue()) {
		t.Error("check value of one key changed between calls")
	}
	if bytes.Equal(cvA, b.CheckValue()) {
		t.Error("two different keys have the same check value")
	}
	if bytes.Contains(cvA, a.key[:8]) {
		t.Error("check value contains key bytes")
	}

	// Stable across a trip through the key file, which is how it is used:
	// computed once, compared at every later start.
	path := filepath.Join(t.TempDir(), "master.key")
	if err := WriteMaster(path, a); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.CheckValue(), cvA) {
		t.Error("check value changed after writing and loading the key")
	}

	if cv := (MasterKey{}).CheckValue(); cv != nil {
		t.Errorf("zero MasterKey check value = %x, want nil", cv)
	}
}

// Each key derived from a master serves one purpose: the page token key
// and the console's enrol key are stable for one master (instances with
// the same key file agree), and differ from the other derived keys and
// from another master's.
func TestDerivedKeys(t *testing.T) {
	a, b := mustMaster(t), mustMaster(t)
	derived := map[string]func(MasterKey) []byte{
		"page token key": MasterKey.PageTokenKey, "enrol key": MasterKey.EnrolKey,
		"index key": MasterKey.IndexKey, "check value": MasterKey.CheckValue,
	}
	for _, name := range []string{"page token key", "enrol key"} {
		key := derived[name](a)
		if len(key) != 32 || !bytes.Equal(key, derived[name](a)) {
			t.Fatalf("%s %x: want 32 bytes, the same at every call", name, key)
		}
		if bytes.Equal(key, derived[name](b)) {
			t.Errorf("the %s equals another master's", name)
		}
		for other, of := range derived {
			if other != name && bytes.Equal(key, of(a)) {
				t.Errorf("the %s equals the %s", name, other)
			}
		}
		if k := derived[name](MasterKey{}); k != nil {
			t.Errorf("zero MasterKey %s = %x, want nil", name, k)
		}
	}
}

func TestMasterKeyNeverPrintsKey(t *testing.T) {
	m := fixedMaster()
	secrets := []string{
		hex.EncodeToString(m.key[:]),
		base64.StdEncoding.EncodeToString(m.key[:]),
		fmt.Sprint(m.key),        // [0 1 2 ...]
		fmt.Sprintf("%x", m.key), // 000102...
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		for _, v := range []any{m, &m, []MasterKey{m}, struct{ K MasterKey }{m}} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("Sprintf(%q, %T) = %q leaks the key", verb, v, out)
				}
			}
			if !strings.Contains(out, m.ID()) {
				t.Errorf("Sprintf(%q, %T) = %q does not show the id", verb, v, out)
			}
		}
	}
}

func TestWriteMaster(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	m := fixedMaster()
	if err := WriteMaster(path, m); err != nil {
		t.Fatalf("WriteMaster: %v", err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode(); got != 0o600 {
		t.Errorf("key file mode %v (%04o), want -rw------- (0600)", got, got.Perm())
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantContent := "childcase-master-key v1\n630dcd2966c43366\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
	if string(content) != wantContent {
		t.Errorf("key file content\n%q\nwant\n%q", content, wantContent)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only master.key (temporary file left behind?)", names)
	}
	loaded, err := LoadMaster(path)
	if err != nil {
		t.Fatalf("LoadMaster: %v", err)
	}
	if loaded != m {
		t.Errorf("loaded %v, want %v", loaded, m)
	}
}

func TestWriteMasterRefusesToOverwrite(t *testing.T) {
	t.Run("existing key file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "master.key")
		first := mustMaster(t)
		if err := WriteMaster(path, first); err != nil {
			t.Fatal(err)
		}
		err := WriteMaster(path, mustMaster(t))
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("second WriteMaster error = %v, want fs.ErrExist", err)
		}
		loaded, err := LoadMaster(path)
		if err != nil {
			t.Fatal(err)
		}
		if loaded != first {
			t.Fatal("the key file was replaced")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d entries after the refused write, want 1", len(entries))
		}
	})
	t.Run("any existing file", func(t *testing.T) {
		path := writeKeyFile(t, "not a key\n", 0o600)
		if err := WriteMaster(path, mustMaster(t)); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("WriteMaster error = %v, want fs.ErrExist", err)
		}
		if got, _ := os.ReadFile(path); string(got) != "not a key\n" {
			t.Fatalf("file content changed to %q", got)
		}
	})
	t.Run("dangling symlink", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "master.key")
		target := filepath.Join(dir, "elsewhere")
		if err := os.Symlink(target, path); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
		if err := WriteMaster(path, mustMaster(t)); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("WriteMaster error = %v, want fs.ErrExist", err)
		}
		if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("symlink target was created (Lstat error %v)", err)
		}
	})
}

func TestWriteMasterErrors(t *testing.T) {
	t.Run("zero key", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteMaster(filepath.Join(dir, "master.key"), MasterKey{}); err == nil {
			t.Fatal("WriteMaster of the zero MasterKey: no error")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("directory holds %d entries, want 0", len(entries))
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no-such-dir", "master.key")
		err := WriteMaster(path, mustMaster(t))
		if err == nil {
			t.Fatal("no error")
		}
		if errors.Is(err, fs.ErrExist) {
			t.Fatalf("error %v wraps fs.ErrExist", err)
		}
	})
}

func TestLoadMasterMode(t *testing.T) {
	content := string(encodeKeyFile(fixedMaster()))
	tests := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o660, false},
		{0o606, false},
		{0o601, false},
		{0o610, false},
		{0o666, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			path := writeKeyFile(t, content, tc.mode)
			err := loadMasterExpect(t, path, tc.ok, errInsecureMode)
			if tc.ok {
				return
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the path %s", msg, path)
			}
			if want := fmt.Sprintf("%04o", tc.mode); !strings.Contains(msg, want) {
				t.Errorf("error %q does not name the mode %s", msg, want)
			}
		})
	}
}

func TestLoadMasterMalformed(t *testing.T) {
	const (
		header = "childcase-master-key v1"
		id     = "630dcd2966c43366"
		key    = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	)
	short := base64.StdEncoding.EncodeToString(testKey(0)[:16])
	long := base64.StdEncoding.EncodeToString(append(testKey(0), 32))
	tests := []struct {
		name    string
		content string
		ok      bool
		reason  string // in the error, so an operator knows what to fix
	}{
		{"valid", header + "\n" + id + "\n" + key + "\n", true, ""},
		{"valid without final newline", header + "\n" + id + "\n" + key, true, ""},
		{"empty file", "", false, "1 lines, want 3"},
		{"only newline", "\n", false, "1 lines, want 3"},
		{"wrong header", "childcase-master-key v2\n" + id + "\n" + key + "\n", false, "first line"},
		{"header with trailing space", header + " \n" + id + "\n" + key + "\n", false, "first line"},
		{"missing header", id + "\n" + key + "\n", false, "2 lines, want 3"},
		{"bad base64", header + "\n" + id + "\n" + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8!\n", false, "base64"},
		{"unpadded base64", header + "\n" + id + "\n" + strings.TrimRight(key, "=") + "\n", false, "base64"},
		{"url-safe base64", header + "\n" + id + "\n" + "-_-_" + key[4:] + "\n", false, "base64"},
		{"16-byte key", header + "\n" + id + "\n" + short + "\n", false, "key is 16 bytes, want 32"},
		{"33-byte key", header + "\n" + id + "\n" + long + "\n", false, "key is 33 bytes, want 32"},
		{"empty key line", header + "\n" + id + "\n\n", false, "key is 0 bytes, want 32"},
		{"id of another key", header + "\n" + "0000000000000000" + "\n" + key + "\n", false, "does not match the key"},
		{"upper-case id", header + "\n" + strings.ToUpper(id) + "\n" + key + "\n", false, "does not match the key"},
		{"extra line", header + "\n" + id + "\n" + key + "\n" + "extra\n", false, "4 lines, want 3"},
		{"blank line at end", header + "\n" + id + "\n" + key + "\n\n", false, "4 lines, want 3"},
		{"CRLF line ends", header + "\r\n" + id + "\r\n" + key + "\r\n", false, "first line"},
		{"too large", header + "\n" + id + "\n" + key + "\n" + strings.Repeat("#", 5000), false, "larger than 4096 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeKeyFile(t, tc.content, 0o600)
			err := loadMasterExpect(t, path, tc.ok, errMalformed)
			if tc.ok {
				return
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
			if strings.Contains(err.Error(), key[:20]) {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

func TestLoadMasterNotAKeyFile(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		_, err := LoadMaster(filepath.Join(t.TempDir(), "master.key"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("error = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "master.key")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMaster(dir)
		if !errors.Is(err, errMalformed) {
			t.Fatalf("error = %v, want errMalformed", err)
		}
	})
}

func TestLoadOrCreateMaster(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	first, created, err := LoadOrCreateMaster(path)
	if err != nil {
		t.Fatalf("first LoadOrCreateMaster: %v", err)
	}
	if !created {
		t.Fatal("first call: created = false, want true")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("created key file mode %04o, want 0600", info.Mode().Perm())
	}
	for i := range 2 {
		again, created, err := LoadOrCreateMaster(path)
		if err != nil {
			t.Fatalf("call %d: %v", i+2, err)
		}
		if created {
			t.Fatalf("call %d: created = true, want false", i+2)
		}
		if again != first {
			t.Fatalf("call %d loaded %v, want %v", i+2, again, first)
		}
		if !bytes.Equal(again.CheckValue(), first.CheckValue()) {
			t.Fatalf("call %d: check value differs", i+2)
		}
	}
}

// TestLoadOrCreateMasterKeepsBadFile checks that a key file that cannot be
// used is reported, never replaced by a new key, since replacing it would
// orphan everything encrypted under the key it held.
func TestLoadOrCreateMasterKeepsBadFile(t *testing.T) {
	good := string(encodeKeyFile(fixedMaster()))
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		want    error
	}{
		{"insecure mode", good, 0o644, errInsecureMode},
		{"malformed", "childcase-master-key v1\n", 0o600, errMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeKeyFile(t, tc.content, tc.mode)
			_, created, err := LoadOrCreateMaster(path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if created {
				t.Error("created = true")
			}
			if got, _ := os.ReadFile(path); string(got) != tc.content {
				t.Errorf("file content changed to %q", got)
			}
		})
	}
}

// TestLoadOrCreateMasterRace starts several services at once on an empty
// directory: exactly one creates the key and all end up with that key.
func TestLoadOrCreateMasterRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 16
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		masters [n]MasterKey
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			masters[i], created[i], errs[i] = LoadOrCreateMaster(path)
		})
	}
	close(start)
	wg.Wait()

	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if masters[i] != masters[0] {
			t.Fatalf("goroutine %d has key %v, goroutine 0 has %v", i, masters[i], masters[0])
		}
	}
	if creators != 1 {
		t.Fatalf("%d goroutines report creating the key, want 1", creators)
	}
	onDisk, err := LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk != masters[0] {
		t.Fatalf("key file holds %v, callers use %v", onDisk, masters[0])
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

// loadMasterExpect loads the key file at path. When ok, it must load the
// fixed master key; otherwise it must fail with wantErr and return no key.
// It returns LoadMaster's error for further checks.
func loadMasterExpect(t *testing.T, path string, ok bool, wantErr error) error {
	t.Helper()
	m, err := LoadMaster(path)
	if ok {
		if err != nil {
			t.Fatalf("LoadMaster: %v", err)
		}
		if m != fixedMaster() {
			t.Fatalf("loaded %v, want %v", m, fixedMaster())
		}
		return nil
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("LoadMaster error = %v, want %v", err, wantErr)
	}
	if m != (MasterKey{}) {
		t.Errorf("LoadMaster returned %v with an error", m)
	}
	return err
}
