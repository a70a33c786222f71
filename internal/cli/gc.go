package cli

// checkGCPercent is the garbage collector's target for "childcase check"
// when GOGC is not set. A check allocates as it decodes every record but
// keeps few of them: the counters of each index and the statistics
// cells, not the records (10 to 25 MB of live heap on 10,000 loaded
// cases). Collecting at the default 100% spent a fifth of
// its CPU on the collector; at 400% the heap peaks near 120 MB there.
const checkGCPercent = 400

// GCPercent returns the garbage collector's target the command line args
// should run with, and false when the runtime's own (GOGC, or 100) should
// stand. Only the main package applies it (runtime/debug.SetGCPercent), as
// the setting belongs to the whole process, not to a command run in a test.
func GCPercent(args []string, getenv func(string) string) (int, bool) {
	if len(args) == 0 || args[0] != "check" || getenv("GOGC") != "" {
		return 0, false
	}
	return checkGCPercent, true
}
