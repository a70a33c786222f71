//go:build !unix

package boltstore

import "io/fs"

// ownedByUs is true where files have no Unix owner: the mode alone then
// tells a snapshot's directory.
func ownedByUs(fs.FileInfo) bool { return true }
