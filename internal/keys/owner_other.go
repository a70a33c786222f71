//go:build !unix

package keys

import "io/fs"

// fileOwner is unknown where files have no Unix owner: the key file's
// access is then left to the system's own rules.
func fileOwner(fs.FileInfo) (uid int, ok bool) { return 0, false }

// openNoFollow is none where the system has no O_NOFOLLOW: refuseLink
// looks at the name before the open.
const openNoFollow = 0
