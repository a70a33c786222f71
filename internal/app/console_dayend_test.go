package app_test

import (
	"strings"
	"testing"
)

// TestConsoleDayCountDueTimesReadAsTheEndOfTheDay: a deadline counted in
// days is due at 24:00 of its last day, which the API gives as 00:00 of
// the next; the console said it so ("06/05/2026 00:00" for a plan due by
// the end of 5 May), a day later than anyone reading it would count. The
// deadlines table, the timeline and the queue say the last day itself,
// "hết ngày 05/05/2026" ("end of 05/05/2026" in English), and nowhere the
// 00:00 of the day after.
func TestConsoleDayCountDueTimesReadAsTheEndOfTheDay(t *testing.T) {
	ts, number := caseConsole(t)
	toPlanDraft(t, ts, number)
	c := getCase(t, ts, "bd.worker", "cases/"+number)
	due := findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1").GetDueTime().AsTime().In(hanoi)
	if due.Hour() != 0 || due.Minute() != 0 {
		t.Fatalf("D6_PLAN_DRAFT due %s, want 00:00 in Hanoi (24:00 of its last day)", due)
	}
	midnight := due.Format("02/01/2006 15:04")
	lastDay := due.AddDate(0, 0, -1).Format("02/01/2006")

	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	table := page[strings.Index(page, `id="deadlines"`):]
	table = table[:strings.Index(table, "</table>")]
	if !strings.Contains(table, "hết ngày "+lastDay) {
		t.Errorf("the deadlines table does not say the plan is due by the end of %s:\n%s", lastDay, table)
	}
	timeline := page[strings.Index(page, `id="timeline"`):]
	if !strings.Contains(timeline, "hạn hết ngày "+lastDay) {
		t.Errorf("the timeline does not say the plan is due by the end of %s", lastDay)
	}
	if strings.Contains(page, midnight) {
		t.Errorf("the case page says %s, 00:00 of the day after the plan's last day", midnight)
	}
	_, queue := b.get("/queues")
	if !strings.Contains(queue, number) || !strings.Contains(queue, "hết ngày "+lastDay) || strings.Contains(queue, midnight) {
		t.Errorf("the queue does not list %s due by the end of %s, or says %s", number, lastDay, midnight)
	}
	b.get("/lang/en?back=/")
	_, page = b.get("/cases/" + number)
	if !strings.Contains(page, "end of "+lastDay) || strings.Contains(page, midnight) {
		t.Errorf("in English the plan is not said due by the end of %s", lastDay)
	}
}
