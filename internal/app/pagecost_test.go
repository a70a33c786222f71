package app_test

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
)

// TestPageCostByBucket is a measurement first: on a copy of a loaded
// database (CHILDCASE_PAGES_DB names its file, as `childcase load` or
// BenchmarkScale left it; skipped without), it makes lone requests one at
// a time and logs which buckets, and which indexes and counter kinds
// inside them, the pages each request's commits wrote belong to.
// bbolt copies every page it changes to a new page id, so a page of the
// file's tree after a request whose id (or content) the tree did not have
// before was written by that request's commits; what one commit wrote
// and the next rewrote counts once here (the free list among them), and
// the meta page is counted by the store (pages/op) only.
//
//	CHILDCASE_PAGES_DB=/path/n10000-seed1/childcase.db GOTOOLCHAIN=go1.27.3 \
//	  go test -count=1 -run '^TestPageCostByBucket$' -v ./internal/app/
func TestPageCostByBucket(t *testing.T) {
	db := os.Getenv("CHILDCASE_PAGES_DB")
	if db == "" {
		t.Skip("CHILDCASE_PAGES_DB names no loaded database to measure")
	}
	m, err := app.ReadLoadManifest(db)
	if err != nil {
		t.Fatal(err)
	}
	cfg := workingCopy(t, db, m)
	ts := scaleServer(t, cfg, m)
	ctx := ts.as(t, "operator")
	worker := ts.as(t, "busy.worker")
	create := creator(t, ts, ctx, scaleReport(m))
	// The start's own work (deadlines due since the load, the search
	// index's catch-up) is done by the time the first requests answer.
	for range 3 {
		create()
	}
	// The tree as the load left it: the pages of each bucket, and of each
	// index or counter kind by its leaves' first keys, and how full.
	{
		pages, used, size := map[string]int{}, map[string]int{}, map[string]int{}
		for _, p := range walkBoltPages(t, cfg.DBPath) {
			pages[p.label]++
			used[p.label] += p.used
			size[p.label] += p.size
		}
		var b strings.Builder
		b.WriteString("the tree: pages, bytes allocated, in use:")
		for _, label := range slices.Sorted(maps.Keys(pages)) {
			fmt.Fprintf(&b, "\n  %-40s %7d %11d %5.1f%%", label, pages[label], size[label], 100*float64(used[label])/float64(size[label]))
		}
		t.Log(b.String())
	}
	measure := func(what string, do func()) {
		t.Helper()
		before := walkBoltPages(t, cfg.DBPath)
		stats := ts.WriteStats()
		do()
		after := ts.WriteStats()
		written := map[string]int{}
		total := 0
		afterPages := walkBoltPages(t, cfg.DBPath)
		// The records of the leaves a request replaced, against those of
		// the leaves it wrote: keys new are inserted, keys whose value
		// changed are put again, and the leaves written that hold them.
		old, oldLabel := map[uint64]uint64{}, map[uint64]string{}
		for id, p := range before {
			if np, ok := afterPages[id]; !ok || np.sum != p.sum {
				for _, k := range p.keys {
					old[k.key] = k.value
					oldLabel[k.key] = k.label
				}
			}
		}
		inserted, changed, deleted, leavesOf := map[string]int{}, map[string]int{}, map[string]int{}, map[string]map[uint64]bool{}
		kept := map[uint64]bool{}
		for id, p := range afterPages {
			if o, ok := before[id]; !ok || o.sum != p.sum {
				written[p.label]++
				total++
				for _, k := range p.keys {
					kept[k.key] = true
					v, had := old[k.key]
					switch {
					case !had:
						inserted[k.label]++
					case v != k.value:
						changed[k.label]++
					default:
						continue
					}
					if leavesOf[k.label] == nil {
						leavesOf[k.label] = map[uint64]bool{}
					}
					leavesOf[k.label][id] = true
				}
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %d commits, %d pages written (the store's count); %d pages of the tree new:",
			what, after.Commits-stats.Commits, after.Pages-stats.Pages, total)
		for _, label := range slices.Sorted(maps.Keys(written)) {
			fmt.Fprintf(&b, "\n  %-40s %4d", label, written[label])
		}
		for k, label := range oldLabel {
			if !kept[k] {
				deleted[label]++
				if leavesOf[label] == nil {
					leavesOf[label] = map[uint64]bool{}
				}
			}
		}
		fmt.Fprintf(&b, "\n  records: inserted, put with a new value, deleted; leaves written holding the first two:")
		for _, label := range slices.Sorted(maps.Keys(leavesOf)) {
			fmt.Fprintf(&b, "\n  %-40s %4d %4d %4d %4d", label, inserted[label], changed[label], deleted[label], len(leavesOf[label]))
		}
		t.Log(b.String())
		// Every page new in the tree was written by the store, which also
		// counts each commit's meta page: a walk that found more misread
		// the file. Each of these requests, alone, is one commit.
		if written := after.Pages - stats.Pages; int64(total) >= written || total == 0 {
			t.Errorf("%s: %d pages of the tree new, want from 1 to fewer than the %d the store wrote", what, total, written)
		}
		if commits := after.Commits - stats.Commits; commits != 1 {
			t.Errorf("%s made %d commits, want 1", what, commits)
		}
	}
	// The read row of the benchmark: a commune worker opens a case of the
	// busy commune, which writes its audit event.
	page, err := ts.cases().ListCases(worker, &pb.ListCasesRequest{PageSize: 3})
	if err != nil || len(page.GetCases()) == 0 {
		t.Fatalf("list the busy commune's cases: %v", err)
	}
	for i, c := range page.GetCases() {
		measure(fmt.Sprintf("GetCase %d", i+1), func() {
			if _, err := ts.cases().GetCase(worker, &pb.GetCaseRequest{Name: c.GetName()}); err != nil {
				t.Fatal(err)
			}
		})
	}
	for i := range 3 {
		var name string
		measure(fmt.Sprintf("CreateReport %d", i+1), func() { name = create() })
		etag := ""
		if c, err := ts.cases().GetCase(worker, &pb.GetCaseRequest{Name: name}); err != nil {
			t.Fatal(err)
		} else {
			etag = c.GetEtag()
		}
		measure(fmt.Sprintf("AcknowledgeCase %d", i+1), func() {
			c, err := ts.process().AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etag})
			if err != nil {
				t.Fatal(err)
			}
			etag = c.GetEtag()
		})
		measure(fmt.Sprintf("AddCaseNote %d", i+1), func() {
			if _, err := ts.process().AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: name, Etag: etag, Text: "Đã gọi điện cho gia đình."}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// boltPage is a page of a bbolt file's tree: a hash of its bytes and what
// it holds (its bucket, and for a leaf of the index or stats bucket the
// index or counter kind of its first key).
type boltPage struct {
	sum   uint64
	label string
	keys  []leafKey // a leaf's records
	used  int       // bytes in use: the header and the elements
	size  int       // bytes allocated, its overflow pages included
}

// leafKey is one record of a leaf: hashes of its bucket and key, and of
// its value, and what its own key says of its part of the bucket.
type leafKey struct {
	key, value uint64
	label      string
}

// pageSeed hashes the pages of every walk alike, so that walks compare.
var pageSeed = maphash.MakeSeed()

// walkBoltPages reads the tree of the bbolt file at path as its last
// committed meta page has it, page by page, in bbolt's on-disk format
// (little-endian on this machine): a page header of 16 bytes (id,
// flags, count, overflow), then 16-byte elements.
func walkBoltPages(t testing.TB, path string) map[uint64]boltPage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	le := binary.LittleEndian
	head := make([]byte, 4096)
	if _, err := f.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	pageSize := int64(le.Uint32(head[24:]))
	metaOf := func(id int64) []byte {
		b := make([]byte, 128)
		if _, err := f.ReadAt(b, id*pageSize); err != nil {
			t.Fatal(err)
		}
		return b[16:]
	}
	meta := metaOf(0)
	if m1 := metaOf(1); le.Uint64(m1[48:]) > le.Uint64(meta[48:]) {
		meta = m1
	}
	read := func(id uint64) []byte {
		b := make([]byte, pageSize)
		if _, err := f.ReadAt(b, int64(id)*pageSize); err != nil {
			t.Fatalf("page %d: %v", id, err)
		}
		if over := le.Uint32(b[12:]); over > 0 {
			b = make([]byte, pageSize*int64(over+1))
			if _, err := f.ReadAt(b, int64(id)*pageSize); err != nil {
				t.Fatalf("page %d: %v", id, err)
			}
		}
		return b
	}
	pages := map[uint64]boltPage{}
	var walk func(id uint64, bucket string)
	walk = func(id uint64, bucket string) {
		p := read(id)
		flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
		label := bucket + " (branch)"
		var keys []leafKey
		if bucket == "" {
			label = "(root of the buckets)"
		}
		for i := range count {
			e := p[16+16*i:]
			switch {
			case flags&0x01 != 0: // branch: pos, ksize, child
				walk(le.Uint64(e[8:]), bucket)
			case flags&0x02 != 0: // leaf: flags, pos, ksize, vsize
				pos, ks, vs := le.Uint32(e[4:]), le.Uint32(e[8:]), le.Uint32(e[12:])
				key := e[pos : pos+ks]
				if i == 0 && bucket != "" {
					label = bucket + leafKind(bucket, key)
				}
				if bucket != "" {
					keys = append(keys, leafKey{
						key:   maphash.Bytes(pageSeed, append([]byte(bucket+"\x00"), key...)),
						value: maphash.Bytes(pageSeed, e[pos+ks:pos+ks+vs]),
						label: bucket + leafKind(bucket, key),
					})
				}
				if le.Uint32(e)&0x01 != 0 { // a bucket: root, sequence
					if root := le.Uint64(e[pos+ks:]); root != 0 && vs >= 16 {
						walk(root, string(key))
					}
				}
			}
		}
		used := 16 + 16*count
		if flags&0x02 != 0 && count > 0 {
			// The elements' keys and values follow them to the last one's end.
			last := p[16+16*(count-1):]
			used = 16 + 16*(count-1) + int(le.Uint32(last[4:])+le.Uint32(last[8:])+le.Uint32(last[12:]))
		} else if flags&0x01 != 0 && count > 0 {
			last := p[16+16*(count-1):]
			used = 16 + 16*(count-1) + int(le.Uint32(last[0:])+le.Uint32(last[4:]))
		}
		pages[id] = boltPage{sum: maphash.Bytes(pageSeed, p), label: label, keys: keys, used: used, size: len(p)}
	}
	walk(le.Uint64(meta[16:]), "")
	// The free list is rewritten whole by every commit: one page write
	// for the store's count however long its run of pages is.
	free := read(le.Uint64(meta[32:]))
	pages[le.Uint64(meta[32:])] = boltPage{sum: maphash.Bytes(pageSeed, free), size: len(free), used: len(free),
		label: fmt.Sprintf("(free list, %d pages long)", len(free)/int(pageSize))}
	return pages
}

// leafKind names what a leaf's first key says of its part of a bucket.
func leafKind(bucket string, key []byte) string {
	if len(key) == 0 {
		return ""
	}
	switch bucket {
	case "index":
		names := map[byte]string{1: "reports_by_call_type", 2: "reports_by_taker", 3: "report_scope", 4: "cases_by_unit",
			5: "cases_by_status", 6: "case_scope", 7: "case_queue", 8: "timers", 9: "tokens_by_user",
			10: "audit_by_case", 11: "audit_by_actor", 12: "audit_by_time"}
		return "/" + names[key[0]]
	case "stats":
		return fmt.Sprintf("/kind %d", key[0])
	}
	return ""
}
