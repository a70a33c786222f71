package app_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// cellsNamed lists the cells of the tables css selects that do not say
// which column they are in, as a person sees the page: on a screen
// narrow enough that the table's header is hidden and each row is a
// stack of cells, a cell's visible text must begin with its column's
// heading (but for the first, the row's own name: the case number, the
// deadline's kind); where the header shows, it must not repeat it.
const cellsNamed = `((css, done) => {
	const faults = [];
	let cells = 0;
	for (const table of document.querySelectorAll(css)) {
		const heads = [...table.querySelectorAll("thead th")].map(th => th.innerText.trim());
		const headHidden = getComputedStyle(table.querySelector("thead")).display === "none";
		for (const tr of table.querySelectorAll("tbody tr")) {
			[...tr.children].forEach((cell, i) => {
				if (i === 0 || !heads[i]) return;
				cells++;
				const text = cell.innerText.trim();
				// A deadline done shows when, where the others show the time left.
				const label = table.id === "deadlines" && i === heads.length - 1 && cell.querySelector("time:not(.countdown)") ? done : heads[i];
				const named = text.startsWith(label + ":");
				if (headHidden && !named) faults.push("a cell of column " + JSON.stringify(heads[i]) + " reads " + JSON.stringify(text.slice(0, 40)) + ", not beginning with " + JSON.stringify(label + ":"));
				if (!headHidden && named) faults.push("a cell of column " + JSON.stringify(heads[i]) + " repeats the header shown above it: " + JSON.stringify(text.slice(0, 40)));
			});
		}
	}
	if (cells === 0) faults.push("no cell to check in " + css);
	return faults;
})`

// TestBrowserPhoneTablesNameEachCell: on a 360px phone the queues'
// list and a case page's deadlines lose their column headers (each row is
// a stack of cells), and a deadline's start and due time were two bare
// dates, a case's receipt time a date beside its nearest deadline's: a
// supervisor reading a late case on a phone could not tell which was
// which. Each cell now says its column there, and only there.
func TestBrowserPhoneTablesNameEachCell(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	number := openCaseIn(t, ts, "00004")
	ts.advance(t, 25*time.Hour) // overdue: the overdue tab has a row too
	// A deadline done: its row shows when it was done, not the time left.
	done := strings.TrimPrefix(acknowledged(t, ts, openCaseIn(t, ts, "00004")), "cases/")
	base := "http://" + ts.HTTPAddr()
	ctx := newTab(t)
	browserSignIn(t, ctx, base, "bd.worker", "pw-bd.worker")
	for _, c := range []struct{ path, tables string }{
		{"/queues?tab=all", "#queue table.list"},
		{"/queues?tab=overdue", "#queue table.list"},
		{"/cases/" + number, "table#deadlines"},
		{"/cases/" + done, "table#deadlines"},
	} {
		for _, size := range []struct {
			name string
			w, h int64
		}{{"phone", 360, 740}, {"laptop", 1366, 768}} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h),
				chromedp.Navigate(base+c.path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatalf("%s on a %s: %v", c.path, size.name, err)
			}
			faults, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](cellsNamed+`(`+strconv.Quote(c.tables)+`, "Hoàn thành lúc")`))
			if err != nil {
				t.Fatalf("%s on a %s: %v", c.path, size.name, err)
			}
			for _, f := range faults {
				t.Errorf("%s on a %s: %s", c.path, size.name, f)
			}
		}
	}
}
