package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// bbolt maps the whole file into memory and reads its pages in place, so a
// file that is shorter than its own meta page says (a backup cut short, a
// disk that lost its tail), or that points at a page beyond its end, makes
// it touch memory past the end of the file: SIGBUS, a crash no recover can
// catch when it happens in one of bbolt's goroutines. inspectFile reads the
// same structures with ordinary reads and names what is wrong, so that
// such a file is refused with a diagnosis before bbolt reads its pages: a
// read-only open (openBoltReadOnly) lets bbolt map the file and read its
// meta pages first, which it checks against the file's size itself, and
// inspects the file before any transaction reads further.
//
// The on-disk format read here is bbolt's (version 2), in the machine's byte
// order:
//
//	page header  id(8) flags(2) count(2) overflow(4)
//	meta         magic(4) version(4) page size(4) flags(4) root(8)
//	             root sequence(8) freelist(8) high-water mark(8) txid(8)
//	             checksum(8), the FNV-64a of the meta bytes before it
//	branch elem  pos(4) key size(4) child page(8), the key pos bytes
//	             after the element
//	leaf elem    flags(4) pos(4) key size(4) value size(4); a bucket's
//	             value is its root page(8) and sequence(8), then, when
//	             the root is 0, the bucket's own page inline
//	freelist     count page ids(8); a count of 0xffff means the first id
//	             is the count

// errDamaged is what inspectFile's findings wrap.
var errDamaged = errors.New("the database file is damaged")

// damage is one finding of inspectFile: the file cannot be mapped safely.
type damage struct{ what string }

func (d *damage) Error() string        { return d.what }
func (d *damage) Is(target error) bool { return target == errDamaged }

func damaged(format string, args ...any) error {
	return &damage{what: fmt.Sprintf(format, args...)}
}

const (
	pageHeaderSize = 16
	elemSize       = 16 // a branch or leaf element
	metaSize       = 64 // magic through checksum
	metaChecksumAt = 56 // offset of the checksum in the meta

	boltMagic   = 0xED0CDAED
	boltVersion = 2

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagFreelist = 0x10
	flagBucket   = 0x01 // on a leaf element

	noFreelist = ^uint64(0)

	// bbolt probes for the second meta page from 1 KiB to 16 MiB.
	minPageSize = 1 << 10
	maxPageSize = 16 << 20
)

var ne = binary.NativeEndian

// meta is a decoded meta page.
type meta struct {
	pageSize       uint32
	root, freelist uint64
	hwm            uint64 // the high-water mark: pages below it are in use
	txid           uint64
}

// readMeta decodes the meta in page at and says why it is not valid, as
// bbolt's Meta.Validate does.
func readMeta(r io.ReaderAt, at int64) (meta, error) {
	var buf [pageHeaderSize + metaSize]byte
	if _, err := r.ReadAt(buf[:], at); err != nil {
		return meta{}, fmt.Errorf("unreadable: %w", err)
	}
	m := buf[pageHeaderSize:]
	switch {
	case ne.Uint32(m[0:]) != boltMagic:
		return meta{}, errors.New("not a bbolt meta page (wrong magic number)")
	case ne.Uint32(m[4:]) != boltVersion:
		return meta{}, fmt.Errorf("bbolt format version %d, want %d", ne.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumAt])
	if h.Sum64() != ne.Uint64(m[metaChecksumAt:]) {
		return meta{}, errors.New("its checksum does not match")
	}
	return meta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		hwm:      ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, nil
}

// inspectFile checks, with ordinary reads, what bbolt will read from the
// file of size bytes through its memory map: the meta pages (magic,
// version, checksum, page size), that the file holds every page below the
// high-water mark of the meta bbolt will use, and that the root and the
// freelist lie below that mark. With deep, it also walks every bucket's
// page tree and checks each page pointer and element against the mark and
// the page it is in, which reads every page in use once. It returns a
// *damage error describing the first problem.
func inspectFile(r io.ReaderAt, size int64, deep bool) error {
	return inspectOn(r, size, deep, runtime.GOMAXPROCS(0))
}

// inspectOn is inspectFile, its deep walk run by as many goroutines as
// workers (walkSideBySide). It finds a problem when the walk on one
// goroutine does, and then says what that walk says.
func inspectOn(r io.ReaderAt, size int64, deep bool, workers int) error {
	switch {
	case size == 0:
		return damaged("the file is empty (0 bytes): it is not a database")
	case size < pageHeaderSize+metaSize:
		return damaged("the file is too short to be a database: %s, less than one meta page", counted(size, "byte"))
	}
	m, err := chooseMeta(r, size)
	if err != nil {
		return err
	}
	ps := int64(m.pageSize)
	if m.hwm < 3 || m.hwm > uint64(size/ps) {
		return damaged("the file is truncated: its meta page (transaction %d) counts %s of %d bytes, %s, but the file has %s",
			m.txid, counted(m.hwm, "page"), ps, counted(m.hwm*uint64(ps), "byte"), counted(size, "byte"))
	}
	if deep && workers > 1 && inspectPages(r, m, deep, workers) == nil {
		return nil
	}
	// On one goroutine, the walk stops at the first problem in its own
	// order, which the walk side by side, stopping at whichever problem
	// one of its goroutines met first, does not: a file found damaged is
	// walked again to say what that first problem is, the same each time.
	return inspectPages(r, m, deep, 1)
}

// inspectPages is what inspectFile checks of the pages of the file whose
// meta m it chose.
func inspectPages(r io.ReaderAt, m meta, deep bool, workers int) error {
	w := &walker{r: r, pageSize: int64(m.pageSize), hwm: m.hwm, seen: newPageSet(m.hwm)}
	if m.freelist != noFreelist {
		if err := w.checkFreelist(m.freelist); err != nil {
			return err
		}
	}
	if m.root < 2 || m.root >= m.hwm {
		return damaged("the root page %d is beyond the high-water mark %d (or a meta page)", m.root, m.hwm)
	}
	if !deep {
		_, err := w.readPage(m.root, "the root bucket")
		return err
	}
	if workers > 1 {
		return w.walkSideBySide(m.root, workers)
	}
	return w.walk(m.root)
}

// pageSet is a set of page ids below a high-water mark, one bit each,
// that goroutines walking the pages side by side share.
type pageSet []atomic.Uint32

func newPageSet(hwm uint64) pageSet { return make(pageSet, (hwm+31)/32) }

// add adds page id and reports whether it was in the set already.
func (s pageSet) add(id uint64) bool {
	bit := uint32(1) << (id % 32)
	return s[id/32].Or(bit)&bit != 0
}

// chooseMeta finds the page size as bbolt does (from meta page 0, else by
// probing for meta page 1) and returns the meta bbolt will use: the valid
// one with the higher transaction id.
func chooseMeta(r io.ReaderAt, size int64) (meta, error) {
	m0, err0 := readMeta(r, 0)
	var ps uint32
	if err0 == nil {
		ps = m0.pageSize
	} else {
		for i := range 15 {
			at := int64(minPageSize) << i
			if at+pageHeaderSize+metaSize > size {
				break
			}
			if m1, err := readMeta(r, at); err == nil {
				ps = m1.pageSize
				break
			}
		}
		if ps == 0 {
			return meta{}, damaged("the file has no valid meta page: page 0: %v; page 1: none valid at any page size from %d to %s. It is not a bbolt database, or both its meta pages are damaged", err0, minPageSize, counted(maxPageSize, "byte"))
		}
	}
	if ps < minPageSize || ps > maxPageSize || bits.OnesCount32(ps) != 1 {
		return meta{}, damaged("the meta page gives a page size of %s, which bbolt never writes (a power of two from %d to %d)", counted(ps, "byte"), minPageSize, maxPageSize)
	}
	if size < 2*int64(ps) {
		return meta{}, damaged("the file is truncated: %s, less than its two meta pages of %s", counted(size, "byte"), counted(ps, "byte"))
	}
	m0, err0 = readMeta(r, 0)
	m1, err1 := readMeta(r, int64(ps))
	var m meta
	switch {
	case err0 != nil && err1 != nil:
		return meta{}, damaged("the file has no valid meta page: page 0: %v; page 1: %v", err0, err1)
	case err1 != nil || (err0 == nil && m0.txid >= m1.txid):
		m = m0
	default:
		m = m1
	}
	if m.pageSize != ps {
		return meta{}, damaged("the meta pages disagree on the page size: %d and %s", ps, counted(m.pageSize, "byte"))
	}
	return m, nil
}

// walker reads pages below the high-water mark hwm, each at most once.
type walker struct {
	r        io.ReaderAt
	pageSize int64
	hwm      uint64
	seen     pageSet // pages already read, overflow included
	buf      []byte  // the page readPage read last
}

// readPage reads page id and its overflow pages, and checks that they lie
// below the high-water mark and were not read before (a page reached
// twice is a loop or a shared page). What it returns is valid until it
// is called again.
func (w *walker) readPage(id uint64, what string) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, damaged("%s points at page %d, beyond the high-water mark %d (or at a meta page)", what, id, w.hwm)
	}
	// The first page at once, header and all, in a buffer the next read
	// reuses: a deep walk reads every page of a file of gigabytes, and a
	// read of the header alone before it doubled the calls.
	w.buf = slices.Grow(w.buf[:0], int(w.pageSize))[:w.pageSize]
	hdr := w.buf
	if _, err := w.r.ReadAt(hdr, int64(id)*w.pageSize); err != nil {
		return nil, damaged("page %d (%s) is unreadable: %v", id, what, err)
	}
	if got := ne.Uint64(hdr[0:]); got != id {
		return nil, damaged("page %d (%s) says it is page %d", id, what, got)
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	if overflow >= w.hwm-id {
		return nil, damaged("page %d (%s) runs over %s, beyond the high-water mark %d", id, what, counted(overflow, "more page"), w.hwm)
	}
	for p := id; p <= id+overflow; p++ {
		if w.seen.add(p) {
			return nil, damaged("page %d (%s) is reached twice", p, what)
		}
	}
	if overflow == 0 {
		return w.buf, nil
	}
	w.buf = slices.Grow(w.buf, int(int64(overflow)*w.pageSize))[:int64(overflow+1)*w.pageSize]
	if _, err := w.r.ReadAt(w.buf[w.pageSize:], int64(id+1)*w.pageSize); err != nil {
		return nil, damaged("page %d (%s) is unreadable: %v", id, what, err)
	}
	return w.buf, nil
}

// checkFreelist checks the freelist page and the ids it holds.
func (w *walker) checkFreelist(id uint64) error {
	p, err := w.readPage(id, "the freelist")
	if err != nil {
		return err
	}
	if flags := ne.Uint16(p[8:]); flags != flagFreelist {
		return damaged("the freelist page %d is not a freelist page (flags %#x)", id, flags)
	}
	start, count := uint64(0), uint64(ne.Uint16(p[10:]))
	if count == 0xffff {
		start, count = 1, ne.Uint64(p[pageHeaderSize:])
	}
	room := uint64(len(p)-pageHeaderSize) / 8
	if start > room || count > room-start {
		return damaged("the freelist page %d counts %s, more than it holds", id, counted(count, "id"))
	}
	for i := start; i < start+count; i++ {
		if free := ne.Uint64(p[pageHeaderSize+8*i:]); free < 2 || free >= w.hwm {
			return damaged("the freelist names page %d, beyond the high-water mark %d (or a meta page)", free, w.hwm)
		}
	}
	return nil
}

// walk reads the page tree of the root bucket and of every bucket in it.
func (w *walker) walk(root uint64) error {
	return w.walkFrom([]child{{root, "the root bucket"}}, nil)
}

// walkFrom reads the page trees under the pages of stack, last first,
// until stop is set (when it is not nil).
func (w *walker) walkFrom(stack []child, stop *atomic.Bool) error {
	for len(stack) > 0 {
		if stop != nil && stop.Load() {
			return nil
		}
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, err := w.readPage(t.id, t.what)
		if err != nil {
			return err
		}
		if stack, err = w.elements(p, t.id, t.what, stack); err != nil {
			return err
		}
	}
	return nil
}

// walkSideBySide is walk on workers goroutines: the pages are read one by
// one with ordinary reads, a system call each, and on one goroutine the
// walk of a file of loaded cases was a tenth of a check's CPU, all of it
// before anything else of the check could begin. It reads the first
// levels of the tree here, until there are subtrees enough to share out,
// then the goroutines take the subtrees one at a time. The pages read
// are marked in one set (pageSet), so a page reached twice is found
// whichever goroutine reaches it second. It returns one of the problems
// found, not necessarily walk's first.
func (w *walker) walkSideBySide(root uint64, workers int) error {
	level := []child{{root, "the root bucket"}}
	for len(level) > 0 && len(level) < 64*workers {
		var next []child
		for _, t := range level {
			p, err := w.readPage(t.id, t.what)
			if err != nil {
				return err
			}
			if next, err = w.elements(p, t.id, t.what, next); err != nil {
				return err
			}
		}
		level = next
	}
	var (
		taken atomic.Int64 // the subtrees of level taken so far
		stop  atomic.Bool
		wg    sync.WaitGroup
		errs  = make([]error, workers)
	)
	for i := range workers {
		wg.Go(func() {
			own := &walker{r: w.r, pageSize: w.pageSize, hwm: w.hwm, seen: w.seen}
			var stack []child
			for !stop.Load() {
				at := taken.Add(1) - 1
				if at >= int64(len(level)) {
					return
				}
				if err := own.walkFrom(append(stack[:0], level[at]), &stop); err != nil {
					errs[i] = err
					stop.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

type child struct {
	id   uint64
	what string
}

// elements checks that every element of page p (page id, or an inline
// bucket when id is 0) and its key and value lie inside p, and appends
// to out the pages p points at: a branch page's children, and the roots
// of the buckets in a leaf page. Inline buckets are walked here, as they
// sit in p.
func (w *walker) elements(p []byte, id uint64, what string, out []child) ([]child, error) {
	// Said only of a damaged page: made for every page, it was an
	// allocation and a formatting per page of the file.
	where := func() string {
		if id == 0 {
			return "the inline page of " + what
		}
		return fmt.Sprintf("page %d (%s)", id, what)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if flags != flagBranch && flags != flagLeaf {
		return nil, damaged("%s is neither a branch nor a leaf page (flags %#x)", where(), flags)
	}
	if pageHeaderSize+count*elemSize > len(p) {
		return nil, damaged("%s counts %s, more than it holds", where(), counted(count, "element"))
	}
	for i := range count {
		at := pageHeaderSize + i*elemSize
		e := p[at : at+elemSize]
		switch flags {
		case flagBranch:
			pos, ksize := int64(ne.Uint32(e[0:])), int64(ne.Uint32(e[4:]))
			if int64(at)+pos+ksize > int64(len(p)) {
				return nil, damaged("%s: element %d lies beyond the page", where(), i)
			}
			out = append(out, child{ne.Uint64(e[8:]), what})
		case flagLeaf:
			elemFlags, pos, ksize, vsize := ne.Uint32(e[0:]), int64(ne.Uint32(e[4:])), int64(ne.Uint32(e[8:])), int64(ne.Uint32(e[12:]))
			end := int64(at) + pos + ksize + vsize
			if end > int64(len(p)) {
				return nil, damaged("%s: element %d lies beyond the page", where(), i)
			}
			if elemFlags&flagBucket == 0 {
				continue
			}
			name := fmt.Sprintf("bucket %q", p[int64(at)+pos:int64(at)+pos+ksize])
			value := p[int64(at)+pos+ksize : end]
			if len(value) < 16 {
				return nil, damaged("%s: the header of %s is %s, want 16", where(), name, counted(len(value), "byte"))
			}
			if root := ne.Uint64(value); root != 0 {
				out = append(out, child{root, name})
				continue
			}
			inline := value[16:]
			if len(inline) < pageHeaderSize {
				return nil, damaged("%s: the inline page of %s is %s", where(), name, counted(len(inline), "byte"))
			}
			var err error
			if out, err = w.elements(inline, 0, name, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// metaProblem says what is wrong when one of the file's two meta pages is
// damaged and the other valid, or "" when both are valid (both damaged is
// inspectFile's). bbolt then reads the file as of the valid one and says
// nothing: when the damaged page recorded the later commit, that commit's
// writes are not in the file, and the next commit overwrites the page, so
// only a check made before can tell.
func metaProblem(r io.ReaderAt, size int64) string {
	m, err := chooseMeta(r, size)
	if err != nil {
		return ""
	}
	for page := range int64(2) {
		if _, err := readMeta(r, page*int64(m.pageSize)); err != nil {
			return fmt.Sprintf("meta page %d is damaged (%v): bbolt reads the file as of meta page %d, transaction %d, so the writes of a later "+
				"transaction the damaged page may have recorded are not in it. A commit cut short by a power loss leaves this; any other cause "+
				"lost that commit: compare with the newest backup", page, err, 1-page, m.txid)
		}
	}
	return ""
}
