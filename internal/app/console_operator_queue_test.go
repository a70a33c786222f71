package app_test

import (
	"strings"
	"testing"
)

// An operator signs in to their queues and finds the cases their calls
// opened. Their unit (the hotline) is responsible for no case, so the
// unit's open queue is always empty for them: their first list is every
// case of their scope, which is the cases of their own reports.
func TestConsoleOperatorQueueShowsTheirCases(t *testing.T) {
	ts, number := caseConsole(t) // opened by operatorID's report
	b := newBrowser(t, ts)
	page := b.signIn(operatorID)
	if !strings.Contains(page, number) {
		t.Errorf("the operator's first queue does not list %s, the case their call opened", number)
	}
	// Their unit's queues, always empty, are not offered
	// (TestConsoleQueuesShowTheRoleItsQueuesOnly).
	if strings.Contains(page, `href="/queues?tab=open"`) {
		t.Error("the operator's queues offer their unit's open queue, which never holds a case")
	}
}
