// Package archtest checks the layering of childcase from its import graph:
// transport -> domain -> storage, with only internal/app (the wiring)
// naming the concrete store. The rules are in its test, which reads the
// graph with go list, beside one that holds the README's Layout to the
// packages go list finds. Others read the source: a role compared
// outside internal/domain/access (the one table of who may do what), the
// machine's time read in the domain instead of the injected clock, a
// package-level variable written by a function. The package has no code
// of its own. It must not
// import the packages it checks, so that a broken layer cannot hide
// behind a build failure here.
package archtest
