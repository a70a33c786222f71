package boltstore

import (
	"bytes"
	"math/bits"
)

// keyRange is the keys k of a bucket with from <= k < to; a nil from is
// from the first key, a nil to up to the last.
type keyRange struct{ from, to []byte }

// contains reports whether k is in r.
func (r keyRange) contains(k []byte) bool {
	return (r.from == nil || bytes.Compare(k, r.from) >= 0) && (r.to == nil || bytes.Compare(k, r.to) < 0)
}

// splitKeys splits the keys from first to last (both included) into at
// most n ranges that cover every key once, for n goroutines to read a
// bucket's records side by side. The bounds are drawn evenly between the
// first eight bytes of first and last read as numbers: the keys of the
// largest buckets (case ids, report uuids) spread evenly over them, so
// the ranges hold about as many keys each. A bucket without keys (first
// nil), or with fewer distinct leading numbers than n, is split less; a
// range may still hold no key, which costs a seek.
func splitKeys(first, last []byte, n int) []keyRange {
	if first == nil || n < 2 {
		return []keyRange{{}}
	}
	lo, hi := prefixNumber(first), prefixNumber(last)
	var out []keyRange
	var from []byte
	for i := 1; i < n; i++ {
		// lo + (hi-lo)*i/n, in 128 bits: the product may not fit in 64.
		mh, ml := bits.Mul64(hi-lo, uint64(i))
		q, _ := bits.Div64(mh, ml, uint64(n))
		bound := be.AppendUint64(nil, lo+q)
		// A bound at or before the first key, or not after the previous
		// bound, would leave a range without keys.
		if bytes.Compare(bound, first) <= 0 || (from != nil && bytes.Compare(bound, from) <= 0) {
			continue
		}
		out = append(out, keyRange{from: from, to: bound})
		from = bound
	}
	return append(out, keyRange{from: from})
}

// prefixNumber reads the first eight bytes of k as a big-endian number,
// a shorter key padded with zeros.
func prefixNumber(k []byte) uint64 {
	var b [8]byte
	copy(b[:], k)
	return be.Uint64(b[:])
}
