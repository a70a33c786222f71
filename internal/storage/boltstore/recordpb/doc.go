// Package recordpb holds the records boltstore keeps on disk, generated
// from proto/childcase/storage/v1/records.proto (never edited by hand).
// They belong to storage alone: only boltstore uses them, through its
// converters (records.go), so that the domain and the public API can
// change without changing the file.
package recordpb
