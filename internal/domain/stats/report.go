package stats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The reports units file, as tables that package reportfile renders as
// CSV, XLSX and a printable page. The headings are Vietnamese, as filed.

// CellKind is what a cell holds.
type CellKind int

// Cell kinds.
const (
	CellText       CellKind = iota
	CellNumber              // a count, or another number
	CellDate                // a day
	CellSuppressed          // a withheld count (see Withhold)
)

// Cell is one cell of a table.
type Cell struct {
	Kind   CellKind
	Text   string
	Number float64
	Date   vntime.Date
	count  bool // a count of records, which Withhold may withhold
}

// Text is a text cell.
func Text(s string) Cell { return Cell{Kind: CellText, Text: s} }

// Number is a number cell that counts no records, such as a row's number.
func Number(n int) Cell { return Cell{Kind: CellNumber, Number: float64(n)} }

// Count is a number cell that counts records: a report that leaves the
// city level may withhold it (Withhold).
func Count(n int) Cell { return Cell{Kind: CellNumber, Number: float64(n), count: true} }

// Date is a date cell.
func Date(d vntime.Date) Cell { return Cell{Kind: CellDate, Date: d} }

// Field is a labelled value above a table: the unit, the period, the day
// it was made, the day it is due.
type Field struct {
	Label string
	Value Cell
}

// Table is a report: a title, its fields, headed columns and rows, and
// notes under it.
type Table struct {
	Name    string // a file name without extension, e.g. "bao-cao-thang-hanh-dong-2026"
	Title   string
	Fields  []Field
	Columns []string
	Rows    [][]Cell
	Notes   []string
	// Relations are the counts of Rows that other counts add up to.
	Relations []Relation
	// Suppressed says the counts from 1 to 4, and the complements that
	// keep them from being worked out, are withheld: the report leaves
	// the city level (Service.leavesCity).
	Suppressed bool
}

// ReportOptions say for whom a report is made.
type ReportOptions struct {
	// Unit and Mapped select the records as in Query.
	Unit   units.Key
	Mapped bool
	// External marks a report made to be sent outside the city's
	// child-protection service (to a ministry, the press, a partner).
	External bool
}

// leavesCity reports whether a report leaves the city level, and so
// withholds small counts: it is external, or made for a unit other than
// the city, or made by someone who is not at the city level (a commune,
// a district, or the hotline, whose reports go to the units below).
func (s *Service) leavesCity(p access.Principal, o ReportOptions) bool {
	if o.External {
		return true
	}
	if !o.Unit.IsZero() {
		if u, ok := s.units.Get(o.Unit); !ok || u.Level != units.LevelCity {
			return true
		}
	}
	// The city's officers are those who see every report of the city.
	_, all := s.policy.ReportScope(p)
	return !all
}

// SmallCount is the least count shown when a report leaves the city level.
const SmallCount = 5

// suppressionNote says on the report what was withheld, and why.
const suppressionNote = "Báo cáo này được gửi ra ngoài cấp thành phố nên các ô ghi \"" + Withheld + "\" không được công bố (bảo vệ bí mật thông tin cá nhân của trẻ em): " +
	"các số từ 1 đến 4 (dưới 5), và thêm các ô nhỏ nhất cần thiết để không ô nào trong số đó tính ra được bằng phép trừ từ một tổng có trên báo cáo (che bổ sung). " +
	"Số 0 được ghi, trừ khi được che bổ sung."

// actionMonthSending returns the fields that say to whom, and before
// which day, the unit a report of the Action Month of year is made for (o's
// unit, else the caller's) sends it (Circular 28/2019): a commune before
// 10 July to the level above it then (its district until 2025-06-30, the
// city after the reform), a district before 20 July to the city. The
// city, which receives them, and an organisation get no such fields: the
// circular gives them no date.
func (s *Service) actionMonthSending(p access.Principal, o ReportOptions, year int) []Field {
	u, ok := s.units.Get(o.Unit)
	if o.Unit.IsZero() {
		u, ok = s.unitNamed(p.Unit)
	}
	if !ok {
		return nil
	}
	before := vntime.Date{Year: year, Month: time.July}
	switch u.Level {
	case units.LevelCommune:
		before.Day = 10
	case units.LevelDistrict:
		before.Day = 20
	default:
		return nil
	}
	to, ok := s.units.Above(u.Key, before)
	if !ok {
		return nil
	}
	level := "cấp thành phố"
	if to.Level == units.LevelDistrict {
		level = "cấp huyện"
	}
	return []Field{{"Gửi đến", Text(level)}, {"Gửi trước ngày", Date(before)}}
}

// ActionMonthResultsDue is the day the city's plan for the Action Month of
// year asks every unit's results by (15 July, as issue 13 has it from the
// seed plan); a unit's report also says to whom and before which day
// Circular 28/2019 has it sent (actionMonthSending).
func ActionMonthResultsDue(year int) vntime.Date {
	return vntime.Date{Year: year, Month: time.July, Day: 15}
}

// ActionMonthReport is the report of the Action Month for Children (June,
// Child Law Art. 11) of year: the indicators of its results (domain.md §8:
// counts by type, channel, timeliness and outcome) for the records p sees
// in o's unit. Making it is audited.
func (s *Service) ActionMonthReport(ctx context.Context, p access.Principal, year int, o ReportOptions) (Table, error) {
	if !p.May(ActionMonthMethod) {
		return Table{}, model.ErrPermissionDenied
	}
	if err := CheckYear(year); err != nil {
		return Table{}, err
	}
	if err := s.inReach(ctx, p, o.Unit, "statistics.report", reportResource(ActionMonthMethod, o.Unit)); err != nil {
		return Table{}, err
	}
	start := vntime.Date{Year: year, Month: time.June, Day: 1}
	q := Query{Unit: o.Unit, Mapped: o.Mapped, From: start.Start(), To: start.AddMonths(1).Start()}
	total, err := s.compute(ctx, p, q)
	if err != nil {
		return Table{}, err
	}
	q.GroupBy = []Dimension{ByAbuseForm}
	byForm, err := s.compute(ctx, p, q)
	if err != nil {
		return Table{}, err
	}
	q.GroupBy = []Dimension{ByChannel}
	byChannel, err := s.compute(ctx, p, q)
	if err != nil {
		return Table{}, err
	}
	t := Table{
		Name:    fmt.Sprintf("bao-cao-thang-hanh-dong-vi-tre-em-%d", year),
		Title:   fmt.Sprintf("Báo cáo kết quả Tháng hành động vì trẻ em năm %d", year),
		Columns: []string{"STT", "Chỉ tiêu", "Số lượng"},
	}
	t.Fields = s.fields(p, o, start, start.AddMonths(1).AddDays(-1), total.AsOf)
	t.Fields = append(t.Fields, s.actionMonthSending(p, o, year)...)
	t.Fields = append(t.Fields, Field{"Hạn gửi kết quả", Date(ActionMonthResultsDue(year))})
	c := sum(total.Groups)
	// row adds an indicator and returns the cell of its count.
	row := func(label string, n int) CellRef {
		t.Rows = append(t.Rows, []Cell{Number(len(t.Rows) + 1), Text(label), Count(n)})
		return CellRef{Row: len(t.Rows) - 1, Col: 2}
	}
	deadlines := deadlineTotals(c)
	reports := row("Số tin báo, cuộc gọi tiếp nhận", c.Reports)
	opened := row("Số vụ việc mở", c.CasesOpened)
	row("Số vụ việc đã đóng", c.CasesClosed)
	row("Số vụ việc mở trong kỳ còn đang xử lý", c.CasesStillOpen)
	// Once the month is over an emergency's D3 is almost always met or
	// late, and a transfer decided: the parts give the total.
	emergencies := Relation{Total: row("Số vụ việc khẩn cấp", c.Emergencies)}
	emergencies.Parts = []CellRef{
		row("Vụ việc khẩn cấp: biện pháp khẩn cấp trong 12 giờ (D3) đúng hạn", c.EmergencyD3[string(model.DeadlineMet)]),
		row("Vụ việc khẩn cấp: D3 trễ hoặc quá hạn", c.EmergencyD3[string(model.DeadlineMissed)]+c.EmergencyD3["OVERDUE"]),
	}
	// A measure, separation or police forwarding recorded late may hide
	// a missed D3 or D13: the plan asks the city to act on delay and
	// cover-up. One rule flags them all, so they are one row, named so
	// that nobody takes it for the commune's records alone.
	row("Số lần ghi nhận muộn: biện pháp khẩn cấp, tách trẻ, chuyển tin báo tội phạm", c.LateRecordings)
	row("Số thời hạn hoàn thành đúng hạn", deadlines.Met)
	row("Số thời hạn hoàn thành trễ hạn", deadlines.Missed)
	row("Số thời hạn đang quá hạn", deadlines.OverdueNow)
	row("Số lần báo cáo lên cấp trên do quá hạn", sumValues(c.Escalations))
	transfers := Relation{Total: row("Số đề nghị chuyển giao vụ việc", c.TransfersProposed)}
	transfers.Parts = []CellRef{
		row("Số chuyển giao được chấp nhận", c.TransfersAccepted),
		row("Số chuyển giao bị từ chối", c.TransfersDeclined),
	}
	row("Số vụ việc chuyển cơ quan công an", c.PoliceReferrals)
	row("Số vụ việc công an đã khởi tố", c.PoliceOutcomes["PROSECUTED"])
	row("Số vụ việc có dấu hiệu tội phạm đóng mà không chuyển công an", c.CrimeClosedWithoutReferral)
	// Most cases have one form of abuse, and every report a channel.
	forms, channels := Relation{Total: opened}, Relation{Total: reports}
	for _, g := range byForm.Groups {
		if g.Key[0] != "" {
			forms.Parts = append(forms.Parts, row("Vụ việc mở theo hình thức xâm hại: "+g.Key[0], g.CasesOpened))
		}
	}
	for _, g := range byChannel.Groups {
		if g.Key[0] != "" {
			channels.Parts = append(channels.Parts, row("Tin báo theo kênh tiếp nhận: "+g.Key[0], g.Reports))
		}
	}
	t.Relations = []Relation{emergencies, transfers, forms, channels}
	t.Notes = []string{"Một vụ việc có nhiều hình thức xâm hại được tính ở mỗi hình thức.",
		"Hạn gửi kết quả theo Kế hoạch Tháng hành động vì trẻ em của Thành phố; gửi đến và gửi trước ngày theo Thông tư 28/2019/TT-BLĐTBXH."}
	return s.finish(ctx, p, o, ActionMonthMethod, fmt.Sprintf("year=%d", year), t, total.AsOf)
}

// The years the Action Month report is made for: from the service's
// data (2020) to 2100. The console's year field takes these bounds.
const (
	FirstActionMonthYear = 2020
	LastActionMonthYear  = 2100
)

// CheckYear refuses a year the Action Month report is not made for.
func CheckYear(year int) error {
	if year < FirstActionMonthYear || year > LastActionMonthYear {
		return model.InvalidField("year", "year.range", "year %d is not between %d and %d", year, FirstActionMonthYear, LastActionMonthYear)
	}
	return nil
}

// PeriodicReport is the periodic child-protection report (Circular
// 28/2019: communes to districts, districts to the city) of the records p
// sees in o's unit from first to last, both included, one row per unit
// and a total. Making it is audited.
func (s *Service) PeriodicReport(ctx context.Context, p access.Principal, first, last vntime.Date, o ReportOptions) (Table, error) {
	if !p.May(PeriodicMethod) {
		return Table{}, model.ErrPermissionDenied
	}
	if err := s.inReach(ctx, p, o.Unit, "statistics.report", reportResource(PeriodicMethod, o.Unit)); err != nil {
		return Table{}, err
	}
	q := Query{Unit: o.Unit, Mapped: o.Mapped, From: first.Start(), To: last.AddDays(1).Start(), GroupBy: []Dimension{ByUnit}}
	res, err := s.compute(ctx, p, q)
	if err != nil {
		return Table{}, err
	}
	t := Table{
		Name:  fmt.Sprintf("bao-cao-bao-ve-tre-em-%s-%s", first, last),
		Title: "Báo cáo định kỳ công tác bảo vệ trẻ em",
		Columns: []string{"Đơn vị", "Mã đơn vị", "Tin báo", "Vụ việc mở", "Đã đóng", "Còn đang xử lý",
			"Thời hạn đúng hạn", "Thời hạn trễ hạn", "Đang quá hạn", "Báo cáo lên cấp trên", "Chuyển công an",
			"Tội phạm đóng không chuyển công an", "Vụ việc khẩn cấp", "Ghi nhận muộn"},
		Fields: s.fields(p, o, first, last, res.AsOf),
	}
	line := func(name, code string, c Counts) []Cell {
		d := deadlineTotals(c)
		return []Cell{Text(name), Text(code), Count(c.Reports), Count(c.CasesOpened), Count(c.CasesClosed),
			Count(c.CasesStillOpen), Count(d.Met), Count(d.Missed), Count(d.OverdueNow),
			Count(sumValues(c.Escalations)), Count(c.PoliceReferrals), Count(c.CrimeClosedWithoutReferral),
			Count(c.Emergencies), Count(c.LateRecordings)}
	}
	for _, g := range res.Groups {
		name, code := g.Key[0], g.Key[0]
		if k, err := units.ParseKey(g.Key[0]); err == nil {
			if u, ok := s.units.Get(k); ok {
				name, code = u.FullName(), u.Code
			}
		}
		t.Rows = append(t.Rows, line(name, code, g.Counts))
	}
	t.Rows = append(t.Rows, line("Tổng cộng", "", sum(res.Groups)))
	// Each column's units add up to its total; a row has no total.
	t.Relations = ColumnTotals(t.Rows, 2)
	t.Notes = []string{"Vụ việc được tính theo đơn vị đang chịu trách nhiệm; tin báo theo xã, phường nơi xảy ra; thời hạn và báo cáo lên cấp trên theo đơn vị phải thực hiện thời hạn (của công an theo đơn vị đang chịu trách nhiệm vụ việc); chuyển giao theo đơn vị đề nghị; " +
		"ghi nhận muộn (biện pháp khẩn cấp, tách trẻ, chuyển tin báo tội phạm đến cơ quan điều tra ghi nhận quá thời hạn cho phép sau khi thực hiện) theo đơn vị đã ghi nhận, " +
		"của công an theo đơn vị đang chịu trách nhiệm vụ việc khi ghi nhận."}
	return s.finish(ctx, p, o, PeriodicMethod, fmt.Sprintf("start_date=%s; end_date=%s", first, last), t, res.AsOf)
}

// Methods of the reports, as the access table names them.
const (
	ActionMonthMethod = "StatisticsService/GetActionMonthReport"
	PeriodicMethod    = "StatisticsService/GetPeriodicReport"
)

// fields are the fields every report starts with.
func (s *Service) fields(p access.Principal, o ReportOptions, first, last vntime.Date, now time.Time) []Field {
	unit := "Toàn bộ phạm vi của người lập"
	if !o.Unit.IsZero() {
		if u, ok := s.units.Get(o.Unit); ok {
			unit = u.FullName()
		}
	}
	return []Field{
		{"Đơn vị", Text(unit)},
		{"Từ ngày", Date(first)},
		{"Đến ngày", Date(last)},
		{"Ngày lập", Date(vntime.DateOf(now))},
		{"Người lập", Text(p.UserID)},
	}
}

// finish withholds the small counts of a report that leaves the city
// level, with their complements (Withhold), and audits that the report
// was made: a report is a file that leaves the service, so its event
// says what it holds, period (in the API's names, as the caller asked
// for it), options and rows.
func (s *Service) finish(ctx context.Context, p access.Principal, o ReportOptions, method, period string, t Table, now time.Time) (Table, error) {
	if s.leavesCity(p, o) {
		t = Withhold(t)
		t.Notes = append(t.Notes, suppressionNote)
	}
	e := p.Event(now, "statistics.report", reportResource(method, o.Unit), "", audit.OutcomeOK)
	e.Reason = period
	if o.Mapped {
		e.Reason += "; include_mapped=true"
	}
	if o.External {
		e.Reason += "; external=true"
	}
	e.Reason += fmt.Sprintf("; %d rows", len(t.Rows))
	if err := s.audit.Record(ctx, e); err != nil {
		return Table{}, err
	}
	return t, nil
}

// reportResource names a report of method for unit in its audit event:
// statistics:periodicReport/units/{unit}.
func reportResource(method string, unit units.Key) string {
	_, name, _ := strings.Cut(method, "/Get")
	return resource("statistics:"+strings.ToLower(name[:1])+name[1:], unit)
}

// sum adds up the counts of groups. Only the additive counts are summed:
// the lateness percentiles are not.
func sum(groups []Group) Counts {
	t := Counts{Deadlines: map[model.DeadlineKind]*DeadlineCounts{}, Escalations: map[string]int{}, PoliceOutcomes: map[string]int{}, EmergencyD3: map[string]int{}}
	for _, g := range groups {
		t.Reports += g.Reports
		t.CasesOpened += g.CasesOpened
		t.CasesClosed += g.CasesClosed
		t.CasesStillOpen += g.CasesStillOpen
		t.TransfersProposed += g.TransfersProposed
		t.TransfersAccepted += g.TransfersAccepted
		t.TransfersDeclined += g.TransfersDeclined
		t.PoliceReferrals += g.PoliceReferrals
		t.CrimeClosedWithoutReferral += g.CrimeClosedWithoutReferral
		t.Emergencies += g.Emergencies
		t.LateRecordings += g.LateRecordings
		for k, dc := range g.Deadlines {
			td := t.deadline(k)
			td.Met, td.Missed, td.OverdueNow = td.Met+dc.Met, td.Missed+dc.Missed, td.OverdueNow+dc.OverdueNow
		}
		for _, m := range []struct{ to, from map[string]int }{{t.Escalations, g.Escalations}, {t.PoliceOutcomes, g.PoliceOutcomes}, {t.EmergencyD3, g.EmergencyD3}} {
			for k, v := range m.from {
				m.to[k] += v
			}
		}
	}
	return t
}

// deadlineTotals adds up the deadlines of every kind.
func deadlineTotals(c Counts) DeadlineCounts {
	var d DeadlineCounts
	for _, dc := range c.Deadlines {
		d.Met, d.Missed, d.OverdueNow = d.Met+dc.Met, d.Missed+dc.Missed, d.OverdueNow+dc.OverdueNow
	}
	return d
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
