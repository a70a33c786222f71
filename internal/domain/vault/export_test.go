package vault

import (
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/keys"
)

// MaxSealers is maxSealers, for the tests of the bound.
const MaxSealers = maxSealers

// CachedSealers is how many data keys' Sealers v keeps.
func (v *Vault) CachedSealers() int { return v.keyed.Load().sealers.len() }

// SealerOf is the Sealer v seals and opens under the data key id with, as
// tx stores it.
func (v *Vault) SealerOf(tx datastore.KeyReader, id string) (*keys.Sealer, error) {
	return v.sealer(tx, id)
}

// OnUnwrap has v show f every plaintext data key it unwraps, as it
// unwraps it.
func (v *Vault) OnUnwrap(f func(dataKey []byte)) { v.unwrapped = f }
