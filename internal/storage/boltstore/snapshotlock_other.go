//go:build !unix

package boltstore

// unlocked is false where there is no flock to ask without opening the
// file with bbolt (which reads what a power cut may have cut short): a
// snapshot's leftover is then not removed.
func unlocked(string) bool { return false }
