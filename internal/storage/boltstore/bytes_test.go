package boltstore_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/audit"
)

// TestBytesByBucket is a measurement, not a check: it reports where the
// bytes of a loaded database go (CHILDCASE_BYTES_DB names a COPY of the
// file, as `childcase load` or BenchmarkScale left it; skipped without),
// from bbolt's own statistics: the file's pages, those free or pending,
// and for each bucket the bytes its pages take and hold, its records and
// their average size; inside the index and stats buckets, whose keys
// share a bucket behind a one-byte tag, the records and their bytes per
// tag. bbolt reads the free list only when it opens a file for writing,
// so the file is opened so (it writes nothing): name a copy, never a
// database a server may open.
//
//	CHILDCASE_BYTES_DB=/path/copy/childcase.db GOTOOLCHAIN=go1.27.3 \
//	  go test -count=1 -run '^TestBytesByBucket$' -v ./internal/storage/boltstore/
func TestBytesByBucket(t *testing.T) {
	path := os.Getenv("CHILDCASE_BYTES_DB")
	if path == "" {
		t.Skip("CHILDCASE_BYTES_DB names no loaded database to measure")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	report, err := measureBytes(db, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + report)
}

// recordBytes sums a run of records: how many, and their keys' and
// values' bytes.
type recordBytes struct{ n, keys, values int }

func (r *recordBytes) add(k, v []byte) {
	r.n++
	r.keys += len(k)
	r.values += len(v)
}

// measureBytes writes the breakdown of TestBytesByBucket as a table.
func measureBytes(db *bolt.DB, fileSize int64) (string, error) {
	// bbolt counts the free list's pages as a write transaction ends: one
	// rolled back writes nothing.
	wtx, err := db.Begin(true)
	if err != nil {
		return "", err
	}
	if err := wtx.Rollback(); err != nil {
		return "", err
	}
	st := db.Stats()
	var b strings.Builder
	err = db.View(func(tx *bolt.Tx) error {
		pageSize := int64(db.Info().PageSize)
		cases := 0
		if c := tx.Bucket([]byte("cases")); c != nil {
			cases = c.Stats().KeyN
		}
		perCase := func(n int64) string {
			if cases == 0 {
				return "-"
			}
			return fmt.Sprintf("%d", n/int64(cases))
		}
		fmt.Fprintf(&b, "file %d bytes (%d pages of %d), high-water mark %d pages; %d cases: %s bytes a case\n",
			fileSize, fileSize/pageSize, pageSize, tx.Size()/pageSize, cases, perCase(fileSize))
		fmt.Fprintf(&b, "free pages %d (%d bytes), pending %d, the free list %d bytes\n",
			st.FreePageN, int64(st.FreePageN)*pageSize, st.PendingPageN, st.FreelistInuse)
		fmt.Fprintf(&b, "%-22s %8s %12s %12s %12s %12s %6s %6s %10s %10s %9s\n",
			"bucket", "keys", "branch alloc", "branch inuse", "leaf alloc", "leaf inuse", "depth", "inline", "avg key", "avg value", "B/case")
		var allocAll, inuseAll int64
		var tagged []string
		err := tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			s := bk.Stats()
			var r recordBytes
			byTag := map[byte]*recordBytes{}
			err := bk.ForEach(func(k, v []byte) error {
				r.add(k, v)
				if (string(name) == "index" || string(name) == "stats") && len(k) > 0 {
					if byTag[k[0]] == nil {
						byTag[k[0]] = &recordBytes{}
					}
					byTag[k[0]].add(k, v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			alloc := int64(s.BranchAlloc + s.LeafAlloc + s.InlineBucketInuse)
			allocAll += alloc
			inuseAll += int64(s.BranchInuse + s.LeafInuse + s.InlineBucketInuse)
			avg := func(sum int) string {
				if r.n == 0 {
					return "-"
				}
				return fmt.Sprintf("%.1f", float64(sum)/float64(r.n))
			}
			fmt.Fprintf(&b, "%-22s %8d %12d %12d %12d %12d %6d %6d %10s %10s %9s\n",
				name, s.KeyN, s.BranchAlloc, s.BranchInuse, s.LeafAlloc, s.LeafInuse, s.Depth, s.InlineBucketN,
				avg(r.keys), avg(r.values), perCase(alloc))
			for _, tag := range slices.Sorted(maps.Keys(byTag)) {
				t := byTag[tag]
				// A leaf element's header is 16 bytes beside its key and value.
				tagged = append(tagged, fmt.Sprintf("%s tag %2d: %8d records, %10d bytes with headers, avg key %.1f, avg value %.1f, %s bytes a case",
					name, tag, t.n, t.keys+t.values+16*t.n, float64(t.keys)/float64(t.n), float64(t.values)/float64(t.n),
					perCase(int64(t.keys+t.values+16*t.n))))
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "buckets: %d bytes allocated (%s a case), %d in use (%.0f%%)\n",
			allocAll, perCase(allocAll), inuseAll, 100*float64(inuseAll)/float64(allocAll))
		beyond := fileSize - tx.Size()
		rest := tx.Size() - allocAll - int64(st.FreePageN)*pageSize
		fmt.Fprintf(&b, "beyond the high-water mark (the file grows in steps): %d bytes; the rest (meta, free list, root of the buckets): %d bytes\n", beyond, rest)
		for _, line := range tagged {
			b.WriteString(line + "\n")
		}
		// The audit log by action: which events its bytes are.
		byAction := map[string]*recordBytes{}
		err = tx.Bucket([]byte("audit")).ForEach(func(k, v []byte) error {
			e, err := audit.Decode(v)
			if err != nil {
				return fmt.Errorf("audit event %x: %w", k, err)
			}
			if byAction[e.Action] == nil {
				byAction[e.Action] = &recordBytes{}
			}
			byAction[e.Action].add(k, v)
			return nil
		})
		if err != nil {
			return err
		}
		actions := slices.SortedFunc(maps.Keys(byAction), func(a, b string) int {
			return byAction[b].values - byAction[a].values
		})
		for _, action := range actions {
			r := byAction[action]
			fmt.Fprintf(&b, "audit %-32s %8d events, %10d bytes of values, avg %.1f\n", action, r.n, r.values, float64(r.values)/float64(r.n))
		}
		return nil
	})
	return b.String(), err
}
