package boltstore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/storage/boltstore"
)

// BenchmarkCheck measures Check per case, on a database of 2000 cases
// written as the service writes them (fillWorkload).
func BenchmarkCheck(b *testing.B) {
	const n = 2000
	path := filepath.Join(b.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	fillWorkload(b, s, n)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := boltstore.Check(context.Background(), path)
		if err != nil || !res.OK() {
			b.Fatalf("Check = %v, %d problems: %v", err, len(res.Problems), res.Problems[:min(3, len(res.Problems))])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/case")
}

// TestCheckReportsProgress: a check reports as it begins, then as it reads,
// with the bucket it is in and a count that only grows.
func TestCheckReportsProgress(t *testing.T) {
	path := workloadFile(t, 200)
	var got []boltstore.Progress
	res, err := boltstore.CheckWith(context.Background(), path, boltstore.CheckOptions{
		Progress: func(p boltstore.Progress) { got = append(got, p) },
		Every:    time.Nanosecond, // every 1024 keys
	})
	if err != nil || !res.OK() {
		t.Fatalf("CheckWith = %v, %s", err, problemList(res))
	}
	if len(got) < 3 {
		t.Fatalf("%d progress reports, want one as the check begins and more as it reads: %+v", len(got), got)
	}
	if got[0].Bucket != "" || got[0].Records != 0 {
		t.Errorf("first report = %+v, want the page walk with no records read", got[0])
	}
	for i, p := range got[1:] {
		if !slices.Contains(layoutBuckets, p.Bucket) && !slices.Contains(layoutIndexes, p.Bucket) {
			t.Errorf("report %d names bucket %q, not one of the layout", i+1, p.Bucket)
		}
		if p.Records <= got[i].Records || p.Elapsed < got[i].Elapsed {
			t.Errorf("report %d = %+v after %+v: the count and time must grow", i+1, p, got[i])
		}
	}
}

// TestCheckAllocations bounds what a check allocates per case, a count a
// busy machine does not change: at a million cases every allocation per
// record is paid millions of times, and the garbage collector with it
// (a check of 10,000 loaded cases spent a sixth of its time allocating).
// The workload holds, per case, a report, three data keys, two case
// events, a timer, a notification, idempotency and audit records.
func TestCheckAllocations(t *testing.T) {
	const n = 200
	path := workloadFile(t, n)
	allocs := testing.AllocsPerRun(3, func() {
		res, err := boltstore.Check(context.Background(), path)
		if err != nil || !res.OK() {
			t.Fatalf("Check = %v, %s", err, problemList(res))
		}
	})
	// 300 until schema version 9, whose counters by day add about 20
	// stored cells (and their decoding) for these cases' dates: 299 in a
	// plain build. Audit events read without encoding/json, and records
	// converted without copying their slices, bring that to 256 (268
	// under the race detector, CI's, which allocates a little more of its
	// own).
	const most = 275
	if perCase := allocs / n; perCase > most {
		t.Errorf("a check allocates %.0f times per case, want at most %d", perCase, most)
	}
}

// BenchmarkCheckFile checks the database file named by CHILDCASE_CHECK_DB
// (skipped without it), as childcase check does: for a profile of a
// check of a large file, such as BenchmarkMillion's, with
// -benchtime 1x -cpuprofile.
func BenchmarkCheckFile(b *testing.B) {
	path := os.Getenv("CHILDCASE_CHECK_DB")
	if path == "" {
		b.Skip("CHILDCASE_CHECK_DB names no file to check")
	}
	for b.Loop() {
		res, err := boltstore.Check(context.Background(), path)
		if err != nil || !res.OK() {
			b.Fatalf("Check = %v, %d problems: %v", err, len(res.Problems), res.Problems[:min(3, len(res.Problems))])
		}
	}
}

// workloadFile is a closed database of n cases written as the service
// writes them (fillWorkload), for a check to read.
func workloadFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	fillWorkload(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
