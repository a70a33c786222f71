package app

import "github.com/childcase/childcase/internal/storage/boltstore"

// WriteStats gives the benchmarks what the server's writes have cost the
// disk so far (commits and pages), counts a busy machine does not change.
func (s *Server) WriteStats() boltstore.WriteStats { return s.store.WriteStats() }
