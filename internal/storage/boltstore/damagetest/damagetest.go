// Package damagetest damages a bbolt file the way a disk or file-system
// fault does, below what bbolt checks when it opens one, for the tests of
// what the store, the server and the commands do with such a file. It
// reads and writes the file with ordinary reads and writes (bbolt's page
// format, version 2, in the machine's byte order; see boltstore's
// inspect.go) and must be imported by tests only.
package damagetest

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"
)

// Leaf is a leaf page of a bucket and the keys it holds.
type Leaf struct {
	ID   uint64
	Keys [][]byte
}

const (
	pageHeaderSize = 16
	elemSize       = 16
	flagBranch     = 0x01
	flagBucket     = 0x01 // on a leaf element
)

var ne = binary.NativeEndian

// Leaves returns the leaf pages of the top-level bucket named bucket of
// the bbolt file at path, in key order. The bucket must have pages of its
// own (not be inline in its parent's).
func Leaves(t testing.TB, path, bucket string) []Leaf {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pageSize, root := readMeta(t, f)
	page := func(id uint64) []byte {
		p := make([]byte, pageSize)
		if _, err := f.ReadAt(p, int64(id)*pageSize); err != nil {
			t.Fatalf("page %d: %v", id, err)
		}
		if ne.Uint32(p[12:]) > 0 {
			t.Fatalf("page %d has overflow pages, which Leaves does not read", id)
		}
		return p
	}
	elem := func(p []byte, i int) []byte { return p[pageHeaderSize+i*elemSize:] }
	key := func(e []byte) []byte {
		pos, ksize := ne.Uint32(e[4:]), ne.Uint32(e[8:])
		return e[pos : pos+ksize]
	}
	// The leaves of a page tree, branch pages followed down in key order.
	var walk func(id uint64, leaves []Leaf) []Leaf
	walk = func(id uint64, leaves []Leaf) []Leaf {
		p := page(id)
		count := int(ne.Uint16(p[10:]))
		if ne.Uint16(p[8:]) == flagBranch {
			for i := range count {
				leaves = walk(ne.Uint64(elem(p, i)[8:]), leaves)
			}
			return leaves
		}
		l := Leaf{ID: id}
		for i := range count {
			l.Keys = append(l.Keys, bytes.Clone(key(elem(p, i))))
		}
		return append(leaves, l)
	}
	var bucketRoot uint64
	for _, l := range walk(root, nil) {
		p := page(l.ID)
		for i := range int(ne.Uint16(p[10:])) {
			if e := elem(p, i); ne.Uint32(e)&flagBucket != 0 && bytes.Equal(key(e), []byte(bucket)) {
				bucketRoot = ne.Uint64(e[ne.Uint32(e[4:])+ne.Uint32(e[8:]):])
			}
		}
	}
	if bucketRoot == 0 {
		t.Fatalf("bucket %s of %s is not on pages of its own", bucket, path)
	}
	return walk(bucketRoot, nil)
}

// Garble overwrites page id of the bbolt file at path with random bytes,
// the same for the same id. A process that has the file open sees it at
// once: bbolt maps the file shared.
func Garble(t testing.TB, path string, id uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	pageSize, _ := readMeta(t, f)
	garbage := make([]byte, pageSize)
	_, _ = rand.NewChaCha8([32]byte{byte(id), byte(id >> 8), byte(id >> 16), byte(id >> 24)}).Read(garbage)
	if _, err := f.WriteAt(garbage, int64(id)*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readMeta returns the page size and the root page of the meta page bbolt
// uses: of the two, the one with the higher transaction id. The meta
// pages of the files these tests damage are sound.
func readMeta(t testing.TB, f *os.File) (pageSize int64, root uint64) {
	t.Helper()
	var hdr [pageHeaderSize + 64]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		t.Fatal(err)
	}
	pageSize = int64(ne.Uint32(hdr[pageHeaderSize+8:]))
	var best uint64
	for _, at := range []int64{0, pageSize} {
		if _, err := f.ReadAt(hdr[:], at); err != nil {
			t.Fatal(err)
		}
		m := hdr[pageHeaderSize:]
		if txid := ne.Uint64(m[48:]); root == 0 || txid > best {
			root, best = ne.Uint64(m[16:]), txid
		}
	}
	return pageSize, root
}
