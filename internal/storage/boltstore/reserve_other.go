//go:build !linux

package boltstore

import "os"

// fallocate is Linux's; elsewhere the reserve is written.
func fallocate(*os.File, int64, int64) error { return errNoFallocate }
