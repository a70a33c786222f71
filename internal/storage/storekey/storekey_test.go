package storekey

import (
	"bytes"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
)

// countingCursor is a Cursor over sorted keys that counts the keys it
// lands on: what a walk reads.
type countingCursor struct {
	keys  [][]byte
	i     int
	reads int
}

func (c *countingCursor) at() ([]byte, []byte) {
	if c.i < 0 || c.i >= len(c.keys) {
		return nil, nil
	}
	c.reads++
	return c.keys[c.i], []byte{}
}

func (c *countingCursor) First() ([]byte, []byte) { c.i = 0; return c.at() }
func (c *countingCursor) Last() ([]byte, []byte)  { c.i = len(c.keys) - 1; return c.at() }
func (c *countingCursor) Next() ([]byte, []byte)  { c.i++; return c.at() }
func (c *countingCursor) Prev() ([]byte, []byte)  { c.i--; return c.at() }
func (c *countingCursor) Seek(k []byte) ([]byte, []byte) {
	c.i = sort.Search(len(c.keys), func(i int) bool { return bytes.Compare(c.keys[i], k) >= 0 })
	return c.at()
}

// TestScanAuditTimeReadsItsPage pins that a page of a time range reads the
// entries of the page and about one more, wherever the range lies in a
// long index: not the entries newer than To, nor those older than From.
func TestScanAuditTimeReadsItsPage(t *testing.T) {
	t0 := time.Date(2026, time.March, 16, 0, 0, 0, 0, time.UTC)
	const n = 10000
	keys := make([][]byte, n)
	for i := range n {
		keys[i] = AuditTimeKey(t0.Add(time.Duration(i)*time.Minute), uint64(i+1))
	}
	// Minutes 5000 to 5009: seqs 5010 down to 5001.
	q := datastore.AuditQuery{From: t0.Add(5000 * time.Minute), To: t0.Add(5010 * time.Minute), Limit: 4}
	var got []uint64
	var maxReads int
	for page := 0; ; page++ {
		c := &countingCursor{keys: keys}
		next, err := ScanAuditTime(c, q, func(k []byte, take bool) error {
			if take {
				got = append(got, be.Uint64(k[8:]))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		maxReads = max(maxReads, c.reads)
		if next == "" {
			break
		}
		q.After = next
	}
	want := []uint64{5010, 5009, 5008, 5007, 5006, 5005, 5004, 5003, 5002, 5001}
	if !slices.Equal(got, want) {
		t.Errorf("pages together = %v, want %v", got, want)
	}
	if maxReads > q.Limit+3 {
		t.Errorf("a page of %d read up to %d entries of %d: the walk is not bounded by the range", q.Limit, maxReads, n)
	}
}

// TestFilteredPagesAreBounded pins that a page whose filter leaves out
// many entries (a commune's cases of a rare status) ends after MaxSkipped
// of them with a cursor to go on, short or empty, rather than reading the
// whole scope; and that its pages together are the whole filtered list,
// for ScanDesc and for ScanMerged alike.
func TestFilteredPagesAreBounded(t *testing.T) {
	const n = 3*MaxSkipped + 7
	prefix := []byte("scope\x00")
	var keys [][]byte
	for i := range n {
		keys = append(keys, append(bytes.Clone(prefix), U64(uint64(i))...))
	}
	// Every 700th entry matches: a page of 5 would read all of them.
	match := func(suffix []byte) bool { return be.Uint64(suffix)%700 == 0 }
	var want []uint64
	for i := n - 1; i >= 0; i-- {
		if i%700 == 0 {
			want = append(want, uint64(i))
		}
	}
	scans := map[string]func(c *countingCursor, after string, fn func(suffix []byte, take bool) error) (string, error){
		"ScanDesc": func(c *countingCursor, after string, fn func([]byte, bool) error) (string, error) {
			return ScanDesc(c, prefix, 8, after, 5, func(k []byte, take bool) error { return fn(k[len(prefix):], take) })
		},
		"ScanMerged": func(c *countingCursor, after string, fn func([]byte, bool) error) (string, error) {
			return ScanMerged(func() Cursor { return c }, [][]byte{prefix}, 8, true, after, 5, fn)
		},
	}
	for name, scan := range scans {
		t.Run(name, func(t *testing.T) {
			var got []uint64
			after, pages, maxReads := "", 0, 0
			for {
				c := &countingCursor{keys: keys}
				next, err := scan(c, after, func(suffix []byte, take bool) error {
					if !match(suffix) {
						return ErrSkip
					}
					if take {
						got = append(got, be.Uint64(suffix))
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				maxReads = max(maxReads, c.reads)
				if next == "" {
					break
				}
				if pages > n {
					t.Fatal("the pages do not end")
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("the pages together = %v, want %v", got, want)
			}
			if maxReads > MaxSkipped+5+3 {
				t.Errorf("a page of 5 read up to %d entries: a filtered page must stop after %d left out", maxReads, MaxSkipped)
			}
		})
	}
}
