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
