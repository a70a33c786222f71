// Package crashtest holds the crash test of childcase: it builds the real
// binary, starts it as a child process on a fresh database, drives
// concurrent intake, case transitions and hand-overs from many clients,
// kills the process with SIGKILL at random moments and restarts it, and
// after every cycle checks that every acknowledged write is there, that no
// retried request was applied twice, that every index agrees with the
// records and the audit chain verifies (boltstore.Check, with the server
// down), and that the deadlines that fell due while the server was down
// fire after the restart, exactly once.
//
// The package has no code of its own: everything is in its tests. Run it
// with
//
//	go test -count=1 -run TestCrash -v ./internal/crashtest/
//
// CHILDCASE_CRASH_CYCLES (or -args -crash.cycles=N) sets the number of
// kill-and-restart cycles (default 20, the CI run; 5 with -short outside
// CI); CHILDCASE_CRASH_SEED makes the random choices repeatable (the
// timing of the kills is not); CHILDCASE_CRASH_KEEP=1 keeps the database
// and the server logs of a passing run (a failing run always keeps them).
// With CI=true the test never skips: a binary that does not build fails it.
package crashtest
