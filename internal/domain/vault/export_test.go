package vault

// MaxSealers is maxSealers, for the tests of the bound.
const MaxSealers = maxSealers

// CachedSealers is how many data keys' Sealers v keeps.
func (v *Vault) CachedSealers() int { return v.keyed.Load().sealers.len() }
