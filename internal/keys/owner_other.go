//go:build !unix

package keys

import "io/fs"

// fileOwner is unknown where files have no Unix owner: the key file's
// access is then left to the system's own rules.
func fileOwner(fs.FileInfo) (uid int, ok bool) { return 0, false }
