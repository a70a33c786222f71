package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// testKey returns a fixed 32-byte key whose bytes all derive from seed, so
// tests that need two different keys can ask for two seeds.
func testKey(seed byte) []byte {
	k := make([]byte, keySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func mustDataKey(t testing.TB) []byte {
	t.Helper()
	k, err := NewDataKey()
	if err != nil {
		t.Fatalf("NewDataKey: %v", err)
	}
	return k
}

func mustSeal(t testing.TB, key, plaintext, aad []byte) []byte {
	t.Helper()
	sealed, err := Seal(key, plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

func TestNewDataKey(t *testing.T) {
	a, b := mustDataKey(t), mustDataKey(t)
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("data key lengths %d, %d; want 32", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Fatal("two data keys are equal")
	}
	if bytes.Equal(a, make([]byte, 32)) {
		t.Fatal("data key is all zeros")
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := mustDataKey(t)
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext", nil, []byte("reports/1")},
		{"one byte", []byte{0}, []byte("reports/1")},
		{"vietnamese text", []byte("Nguyễn Thị A, 9 tuổi, Phường Ba Đình"), []byte("reports/1")},
		{"no aad", []byte("narrative"), nil},
		{"4 KiB", bytes.Repeat([]byte("x"), 4096), []byte("cases/HN-2026-00123")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed := mustSeal(t, key, tc.plaintext, tc.aad)
			if got, want := len(sealed), len(tc.plaintext)+1+12+16; got != want {
				t.Errorf("sealed length %d, want %d", got, want)
			}
			if sealed[0] != 0x01 {
				t.Errorf("version byte 0x%02x, want 0x01", sealed[0])
			}
			if len(tc.plaintext) >= 8 && bytes.Contains(sealed, tc.plaintext[:8]) {
				t.Error("sealed output contains plaintext")
			}
			got, err := Open(key, sealed, tc.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Fatalf("Open = %q, want %q", got, tc.plaintext)
			}
		})
	}
}

// TestOpenKnownAnswer pins the sealed format against a vector made
// independently with Python's cryptography package (AESGCM with key 00..1f,
// nonce a0..ab, associated data 0x01 || "reports/0001"). Values already stored
// in databases must keep opening.
func TestOpenKnownAnswer(t *testing.T) {
	sealed, err := hex.DecodeString("01a0a1a2a3a4a5a6a7a8a9aaab" +
		"a87f0954a47087d14231ef32bcf1e09f5c8c6030e6c2a3d70967fa9a53f3ff9f2152cd61b3b4ad3a4b83")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(testKey(0), sealed, []byte("reports/0001"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if want := "Nguyễn Thị A, 9 tuổi"; string(got) != want {
		t.Fatalf("Open = %q, want %q", got, want)
	}
}

func TestSealTwiceDiffers(t *testing.T) {
	key := mustDataKey(t)
	pt, aad := []byte("same plaintext"), []byte("reports/1")
	a, b := mustSeal(t, key, pt, aad), mustSeal(t, key, pt, aad)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Fatal("two seals used the same nonce")
	}
}

func TestOpenTamperedFails(t *testing.T) {
	key := mustDataKey(t)
	aad := []byte("reports/1")
	sealed := mustSeal(t, key, []byte("tên người báo tin"), aad)
	// Every byte: version, nonce, ciphertext and tag. Flipping one bit and
	// replacing the byte both must be caught.
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			tampered := bytes.Clone(sealed)
			tampered[i] ^= mask
			got, err := Open(key, tampered, aad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d ^ 0x%02x: Open error = %v, want ErrDecrypt", i, mask, err)
			}
			if got != nil {
				t.Fatalf("byte %d ^ 0x%02x: Open returned plaintext %q with an error", i, mask, got)
			}
		}
	}
	t.Run("appended byte", func(t *testing.T) {
		if _, err := Open(key, append(bytes.Clone(sealed), 0), aad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Open error = %v, want ErrDecrypt", err)
		}
	})
}

func TestOpenTruncatedFails(t *testing.T) {
	key := mustDataKey(t)
	aad := []byte("reports/1")
	sealed := mustSeal(t, key, []byte("narrative"), aad)
	for n := range len(sealed) {
		if _, err := Open(key, sealed[:n], aad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("first %d of %d bytes: Open error = %v, want ErrDecrypt", n, len(sealed), err)
		}
		if _, err := Open(key, sealed[len(sealed)-n:], aad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("last %d of %d bytes: Open error = %v, want ErrDecrypt", n, len(sealed), err)
		}
	}
}

func TestOpenWrongKeyOrAADFails(t *testing.T) {
	key := testKey(1)
	pt, aad := []byte("child's address"), []byte("reports/1")
	sealed := mustSeal(t, key, pt, aad)
	tests := []struct {
		name string
		key  []byte
		aad  []byte
	}{
		{"wrong data key", testKey(2), aad},
		{"key differing in one bit", func() []byte { k := testKey(1); k[31] ^= 1; return k }(), aad},
		{"other record's aad", key, []byte("reports/2")},
		{"aad with extra byte", key, []byte("reports/1\x00")},
		{"nil aad", key, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.key, sealed, tc.aad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open error = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Fatalf("Open returned %q with an error", got)
			}
		})
	}
	// The same inputs with the right key and aad open, so the failures above
	// come from the change each case makes.
	if _, err := Open(key, sealed, aad); err != nil {
		t.Fatalf("control Open: %v", err)
	}
}

func TestOpenUnknownVersionFails(t *testing.T) {
	key := mustDataKey(t)
	sealed := mustSeal(t, key, []byte("x"), nil)
	for _, v := range []byte{0x00, 0x02, 0xff} {
		sealed[0] = v
		_, err := Open(key, sealed, nil)
		if !errors.Is(err, ErrDecrypt) {
			t.Fatalf("version 0x%02x: Open error = %v, want ErrDecrypt", v, err)
		}
		if !strings.Contains(err.Error(), "version") {
			t.Errorf("version 0x%02x: error %q does not mention the version", v, err)
		}
	}
}

func TestSealOpenRejectBadKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		key := make([]byte, n)
		if _, err := Seal(key, []byte("x"), nil); err == nil {
			t.Errorf("Seal with %d-byte key: no error", n)
		}
		_, err := Open(key, make([]byte, 64), nil)
		if err == nil {
			t.Errorf("Open with %d-byte key: no error", n)
		}
		if errors.Is(err, ErrDecrypt) {
			t.Errorf("Open with %d-byte key: error %v wraps ErrDecrypt; a bad key size is a caller bug", n, err)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	key := mustDataKey(b)
	line := []byte("Hàng xóm nghe tiếng trẻ khóc. ")
	record := bytes.Repeat(line, 4096/len(line)+1)[:4096]
	aad := []byte("reports/01a222d5-bea0-7bea-bf64-debef56d112a")
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for b.Loop() {
		sealed, err := Seal(key, record, aad)
		if err != nil {
			b.Fatal(err)
		}
		got, err := Open(key, sealed, aad)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(record) {
			b.Fatalf("opened %d bytes, want %d", len(got), len(record))
		}
	}
}
