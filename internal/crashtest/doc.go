// Package crashtest holds the crash and failover tests of childcase.
//
// The crash test builds the real
// binary, starts it as a child process on a fresh database, drives
// concurrent intake, case transitions and hand-overs from many clients,
// kills the process with SIGKILL at random moments and restarts it, and
// after every cycle checks that every acknowledged write is there, that the
// audit log holds the event of every acknowledged report and of every read
// the workload was answered, that no retried request was applied twice,
// that every index agrees with the records and the audit chain verifies
// (boltstore.Check, with the server down), and that the deadlines that
// fell due while the server was down fire after the restart, exactly once.
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
//
// The failover test (TestFailover) runs the same workload, ledger and
// checks on two instances of the binary sharing a three-member etcd
// cluster embedded in the test (etcdtest), with clients that retry on the
// other instance, with the same request, when theirs does not answer.
// Each cycle kills the etcd leader abruptly, then the instance that leads
// the election (found from the election's value in etcd) with SIGKILL, at
// random moments, restarts both, and checks the service and a backup of
// the cluster taken through the API (a bbolt file, checked like the crash
// test's); deadlines that fall due while no instance leads must fire once.
// At the end porcupine checks that the history of every case's etag
// (GetCase, and the steps sent with an etag) is linearizable, and on
// failure writes its visualisation next to the logs (or, with -artifacts,
// to the test's artifact directory). Run it with
//
//	go test -count=1 -run TestFailover -v ./internal/crashtest/
//
// CHILDCASE_FAILOVER_CYCLES (or -args -failover.cycles=N) sets the number
// of cycles (default 4, the CI run; 2 with -short outside CI);
// CHILDCASE_FAILOVER_SEED repeats the random choices; CHILDCASE_CRASH_KEEP
// keeps the logs of a passing run too.
//
// Short tests SIGKILL at the moments the random kills of the crash test
// do not reach (ops_test.go): TestKillDuringKeyRotation (at each phase of
// RotateMasterKey under load, and of the offline keys rotate),
// TestKillDuringBackup (the server during BackupDatabase and childcase
// backup, and childcase backup itself) and TestKillWhileDiskFull (on a
// small tmpfs, skipped where mounting is not allowed, except in CI). Each
// checks `childcase check`, that every acknowledged case opens and is
// found by a search after the restart, and what is special to it. Others
// kill what the crash test's workload does not do:
// TestKillDuringAdminWrites (users, tokens, revocations, password resets),
// TestKillDuringWebhookDelivery (after a notification is sent, before it
// is marked delivered), TestKillDuringRestore (childcase restore itself),
// TestKillDuringMigration (the first start on each older schema's golden
// file) and TestBackupDuringKeyRotationIsUnderOneMaster (hot backups taken
// while the master key rotates, each under one master).
package crashtest
