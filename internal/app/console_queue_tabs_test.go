package app_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

var queueTab = regexp.MustCompile(`<a href="/queues\?tab=([a-z]+)"( aria-current="page")?>`)

// tabsOf reads the queues page's tabs, in order, and the one shown.
func tabsOf(page string) (tabs []string, current string) {
	for _, m := range queueTab.FindAllStringSubmatch(page, -1) {
		tabs = append(tabs, m[1])
		if m[2] != "" {
			current = m[1]
		}
	}
	return tabs, current
}

// TestConsoleQueuesShowTheRoleItsQueuesOnly: the queues page offers each
// role the queues it can have a case in. Only city officers hold the
// cases awaiting a successor; only the units that decide transfers are
// offered one (never the police); an operator's or a supervisor's unit
// is an organisation, responsible for no case, so they have their scope
// alone. A queue the role cannot have, asked for by its address, shows
// the role's first queue rather than a list that is always empty.
func TestConsoleQueuesShowTheRoleItsQueuesOnly(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	users := addUserOfEachRole(t, ts)
	for role, want := range map[model.Role][]string{
		model.RoleHotlineOperator:   {"all"},
		model.RoleHotlineSupervisor: {"all"},
		model.RoleCommuneWorker:     {"open", "overdue", "accept", "all"},
		model.RoleCommuneChair:      {"open", "overdue", "accept", "all"},
		model.RoleDistrictOfficer:   {"open", "overdue", "accept", "all"},
		model.RoleCityOfficer:       {"open", "overdue", "accept", "successor", "all"},
		model.RolePoliceLiaison:     {"open", "overdue", "all"},
	} {
		b := newBrowser(t, ts)
		b.signInTo(users[role])
		resp, page := b.get("/queues")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /queues: %s", role, resp.Status)
		}
		tabs, current := tabsOf(page)
		if !slices.Equal(tabs, want) || current != want[0] {
			t.Errorf("%s: queues tabs %v showing %q, want %v showing %q", role, tabs, current, want, want[0])
		}
		for _, tab := range []string{"open", "overdue", "accept", "successor"} {
			if slices.Contains(want, tab) {
				continue
			}
			_, page := b.get("/queues?tab=" + tab)
			if _, current := tabsOf(page); current != want[0] {
				t.Errorf("%s: /queues?tab=%s shows %q, want their first queue %q", role, tab, current, want[0])
			}
		}
	}
}

var queueLink = regexp.MustCompile(`href="/queues\?tab=([a-z]+)"`)

// TestConsoleDashboardLinksOnlyToTheRolesQueues: the dashboard's link to
// the overdue cases of the person's unit (and those escalated to it) is
// there only for the roles that have that queue. A hotline supervisor's
// unit is an organisation, which has none: the link led to the queues
// page, which shows such a role its whole scope instead, under a button
// that said "overdue".
func TestConsoleDashboardLinksOnlyToTheRolesQueues(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	users := addUserOfEachRole(t, ts)
	for _, role := range model.Roles {
		if !(access.Principal{Role: role}).May("StatisticsService/GetStatistics") {
			continue
		}
		b := newBrowser(t, ts)
		b.signInTo(users[role])
		_, queues := b.get("/queues")
		tabs, _ := tabsOf(queues)
		resp, page := b.get("/dashboard")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /dashboard: %s", role, resp.Status)
		}
		for _, m := range queueLink.FindAllStringSubmatch(page, -1) {
			if !slices.Contains(tabs, m[1]) {
				t.Errorf("%s: the dashboard links to the queue %q, which the role does not have (its queues: %v)", role, m[1], tabs)
			}
		}
	}
}
