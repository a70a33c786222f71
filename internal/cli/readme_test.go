package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The README is a walk-through a newcomer types in order. TestREADME runs
// its sh blocks in order, in one bash session with set -euo pipefail,
// against a demo server started with the README's own serve --demo line, so
// a command that no longer works (a renamed field, a stale etag, an
// undefined variable, a flag that is gone) fails the test. console blocks
// are shown to the reader and not run.

// readmeMainEnv makes the test binary behave as the childcase command, so
// the README's "go run ./cmd/childcase" lines run this build without a
// second compilation.
const readmeMainEnv = "CHILDCASE_README_MAIN"

// readmeGoRun is how the README runs the command; the test replaces it with
// a shell function calling the test binary.
const readmeGoRun = "GOTOOLCHAIN=go1.27.3 go run ./cmd/childcase"

// The README's literal addresses, rewritten to the test server's.
const (
	readmeHTTPAddr = "localhost:8111"
	readmeGRPCAddr = "localhost:9111"
	// readmeMetricsAddr is the demo's --metrics-addr.
	readmeMetricsAddr = "localhost:9112"
)

func TestMain(m *testing.M) {
	if os.Getenv(readmeMainEnv) == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	// The tests run in this package's folder, where a serve or a command
	// left at its defaults writes childcase.db and childcase.key: a test
	// gives its own paths under t.TempDir, and leaves no database or
	// master key in the source tree (TestServeStopsOnSIGTERM left a key).
	defaults := []string{"childcase.db", "childcase.db.reserve", "childcase.key"}
	before := map[string]bool{}
	for _, name := range defaults {
		_, err := os.Stat(name)
		before[name] = err == nil
	}
	code := m.Run()
	for _, name := range defaults {
		if _, err := os.Stat(name); err == nil && !before[name] {
			fmt.Fprintf(os.Stderr, "FAIL: a test of internal/cli left %s in the source tree: give it a path under t.TempDir\n", name)
			code = 1
		}
	}
	os.Exit(code)
}

// readmeBlock is one fenced code block of the README.
type readmeBlock struct {
	lang string
	line int // 1-based line of the opening fence
	text string
}

// readmeBlocks returns the fenced code blocks of a Markdown text in order,
// with the indentation of a block inside a list item taken off.
func readmeBlocks(t *testing.T, md string) []readmeBlock {
	t.Helper()
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		indent string
		body   strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") {
				indent = line[:len(line)-len(trimmed)]
				cur = &readmeBlock{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: n}
				body.Reset()
			}
			continue
		}
		if trimmed == "```" {
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		body.WriteString(strings.TrimPrefix(line, indent))
		body.WriteByte('\n')
	}
	if cur != nil {
		t.Fatalf("README.md:%d: code block never closed", cur.line)
	}
	return blocks
}

// readmeServeArgs returns the arguments of the README's serve --demo line
// (a console block: the test starts the server itself).
func readmeServeArgs(t *testing.T, blocks []readmeBlock) []string {
	t.Helper()
	for _, b := range blocks {
		for _, line := range strings.Split(b.text, "\n") {
			if rest, ok := strings.CutPrefix(line, readmeGoRun+" serve --demo"); ok {
				return append([]string{"--demo"}, strings.Fields(rest)...)
			}
		}
	}
	t.Fatalf("README.md: no %q line to start the demo server", readmeGoRun+" serve --demo")
	return nil
}

// readmeNeed finds the tools the walk-through uses; on a developer's
// machine without them the test skips, in CI it fails.
func readmeNeed(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to run the README (.ci/run installs it): %v", tool, err)
			}
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

func TestREADME(t *testing.T) {
	readmeNeed(t, "bash", "curl", "jq")
	mgClearEnv(t)
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(md))

	// The walk-through's files (demo-tokens.env, report.json, backups/)
	// go to the directory the shell runs in, as they would for the reader.
	dir := t.TempDir()
	args := readmeServeArgs(t, blocks)
	metricsAddr := mgAddr(t)
	for i := range args {
		if i > 0 && args[i-1] == "--demo-tokens" {
			args[i] = filepath.Join(dir, args[i])
		}
		if i > 0 && args[i-1] == "--metrics-addr" && args[i] == readmeMetricsAddr {
			args[i] = metricsAddr
		}
	}
	// The server's own files stay apart from the walk-through's.
	serverDir := t.TempDir()
	grpcAddr := mgAddr(t)
	s := mgServe(t, filepath.Join(serverDir, "childcase.db"), filepath.Join(serverDir, "childcase.key"),
		append(args, "--grpc-addr", grpcAddr)...)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rewrite := strings.NewReplacer(readmeGoRun, "childcase", readmeHTTPAddr, s.http, readmeGRPCAddr, grpcAddr,
		readmeMetricsAddr, metricsAddr)
	var script strings.Builder
	fmt.Fprintf(&script, "set -euo pipefail\ncd %q\nchildcase() { %s=1 %q \"$@\"; }\n", dir, readmeMainEnv, exe)
	ran := 0
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		if !strings.Contains(b.text, readmeHTTPAddr) && !strings.Contains(b.text, readmeMetricsAddr) && !strings.Contains(b.text, "demo-tokens") {
			// Every runnable block talks to the server; one that does
			// not was probably meant to be a console block.
			t.Errorf("README.md:%d: an sh block that neither calls the server nor reads the demo tokens: "+
				"mark it ```console if the README test must not run it", b.line)
		}
		fmt.Fprintf(&script, "echo; echo '==> README.md:%d'\n%s\n", b.line, rewrite.Replace(b.text))
		ran++
	}
	script.WriteString("echo; echo '==> README.md: end'\n")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	// A reader's clock is not always Hanoi's: the shell runs 24 hours
	// behind Vietnam (UTC-17), so a day or year taken from date without
	// TZ=Asia/Ho_Chi_Minh is Vietnam's yesterday (the statistics' periods
	// are Vietnam's days, and today's cases would be left out, as they
	// were for a reader on a UTC machine after 17:00), and a receive time
	// taken from date without -u is 17 hours stale (its D3 is past due,
	// checked below).
	cmd.Env = append(os.Environ(), "TZ=<-17>17")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's sh blocks failed (%v); the last block started is the last '==> README.md:N' line:\n%s\nserver:\n%s",
			err, out, s.console())
	}
	t.Logf("ran %d sh blocks of README.md", ran)

	// The reader types the walk-through in the checkout, where the demo
	// wrote its tokens: every file it leaves there is ignored by git, so
	// that none is committed by a "git add ." and none makes the build
	// of "Build and install" report modified: true and +dirty.
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if !gitIgnored(t, e.Name(), e.IsDir()) {
			t.Errorf("the walk-through leaves %s in the checkout, which .gitignore does not ignore", e.Name())
		}
	}

	// The failing commands above fail the test; these check that the
	// walk-through shows what the README says it shows.
	got := string(out)
	for _, want := range []struct{ text, why string }{
		{`"reporter":{"withheld":true}`, "the report's answer withholds the reporter"},
		{`"kind":"CASE_FORWARDED"`, "the watch shows the new case's notification"},
		{`"intact":true`, "the auditor's verify"},
		{"report.receive_time", "the bad request names the field"},
		{"} 400\n", "the bad request is a 400"},
		{"OK: schema version", "check passes on the backups"},
		{`"cases_opened":`, "the statistics count the walk-through's cases"},
		{"0000000   P   K 003 004", "the Action Month report is an XLSX (zip) file"},
		{"Báo cáo kết quả Tháng hành động vì trẻ em năm", "the CSV report's title"},
		{"case_number,status,", "the supervisor's export is CSV with its header"},
		{"childcase_db_size_bytes ", "the metrics curl shows the database's size"},
	} {
		if !strings.Contains(got, want.text) {
			t.Errorf("the walk-through's output lacks %q (%s):\n%s", want.text, want.why, got)
		}
	}
	// The answers the README shows in comments are those of its own
	// walk-through: each of these is in the README and in the output
	// (protojson's spacing taken out, as it varies on purpose, or as the
	// command printed it).
	compact := strings.NewReplacer(", ", ",", "\": ", "\":").Replace(got)
	for _, shown := range []string{
		`{"intact":true,"checked_events":"125","head_seq":"125","head_hash":"`,
		`{"officers":[{"name":"users/badinh.worker","display_name":"Lê Thị Hoa (cán bộ BVTE phường Ba Đình)","unit":"units/00004@2025-07-01"}]}`,
		`"score":12,"matched_fields":["child_name","commune","phone"]`,
		`"reporter":{"anonymous":true},"candidates":[{"case":"cases/HN-2026-00006","score":16,"matched_fields":["birth_year","caregiver_name","child_name","commune","phone"]}]}`,
		`"kind":"CASE_FORWARDED","case":"cases/HN-2026-00007"`,
		// The walk-through's first answers, which a newcomer compares
		// first: the admin's new user, the report, the case it opened
		// (its status, unit, etag and what intake made of the call), the
		// refusal of a bad report and the readiness check.
		`{"user":{"name":"users/lan.nguyen",`,
		`"password_link_secret":"pw_`,
		`"case":"cases/HN-2026-00005"`,
		`{"name":"cases/HN-2026-00005","case_number":"HN-2026-00005","status":"CASE_STATUS_AWAITING_ACKNOWLEDGEMENT","responsible_unit":"units/00004@2025-07-01",`,
		`"etag":"1.xd6giq","children":[{"age_years":9,"age_estimated":true,"sex":"SEX_FEMALE"}],"suspected_abuse":["ABUSE_FORM_VIOLENCE"],"emergency":true,"emergency_reason":"EMERGENCY_REASON_CAREGIVER_IS_ABUSER",`,
		"{\"code\":3,\"message\":\"invalid request: report.receive_time: value is required [required]; report.incident_commune_code: does not match regex pattern `^[0-9]{5}$` [string.pattern]; ",
		`{"status":"ready"}`,
		// check's summary of the hot backup: the walk-through's own counts
		// (not the file's size in bytes, which follows how the writes
		// of the moment shared their commits).
		fmt.Sprintf("OK: schema version %d, ", app.SchemaVersion),
		" bytes; 9 reports, 7 cases, 31 case events, 15 timers, 11 notifications; " +
			"12 users, 34 tokens, 2 police units, 20 data keys; 171 audit events (head seq 171)",
	} {
		if !strings.Contains(string(md), shown) {
			t.Errorf("README.md no longer shows %s: update this test with it", shown)
		}
		if !strings.Contains(compact, shown) && !strings.Contains(got, shown) {
			t.Errorf("README.md shows %s, which its walk-through does not answer:\n%s", shown, got)
		}
	}
	// The statistics of this year count the walk-through's own cases,
	// opened today in Vietnam (HN-2026-00005 to 00007, in Phường Ba Đình),
	// in the row of Vietnam's month; 00005 was acknowledged.
	month := time.Now().In(vntime.Location()).Format("2006-01")
	row := regexp.MustCompile(`\{"key":\["` + month + `","00004@2025-07-01"\],"reports":([0-9]+),"cases_opened":([0-9]+),"deadlines":\[\{"kind":"ACKNOWLEDGE","met":1,`).FindStringSubmatch(got)
	if row == nil {
		t.Errorf("the statistics show no row of %s for Phường Ba Đình with its ACKNOWLEDGE met, as the README shows:\n%s", month, got)
	} else if opened, _ := strconv.Atoi(row[2]); opened < 3 {
		t.Errorf("the statistics of %s count %s cases opened in Phường Ba Đình, want the walk-through's 3 at least (a period that ends on another day than Vietnam's today?):\n%s", month, row[2], got)
	}

	// The emergency assessment's 12-hour clock (D3) runs from the report's
	// receive time: the walk-through must receive the report now, or the
	// deadline is missed the moment it starts.
	caseJSON, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	var assessed struct {
		Deadlines []struct {
			Kind    string    `json:"kind"`
			DueTime time.Time `json:"due_time"`
		} `json:"deadlines"`
	}
	if err := json.Unmarshal(caseJSON, &assessed); err != nil {
		t.Fatalf("case.json: %v\n%s", err, caseJSON)
	}
	d3 := false
	for _, d := range assessed.Deadlines {
		if d.Kind == "D3_EMERGENCY" {
			d3 = true
			if !d.DueTime.After(time.Now()) {
				t.Errorf("the walk-through's emergency deadline D3 was due %s, before it was shown: the report's receive time is stale", d.DueTime)
			}
		}
	}
	if !d3 {
		t.Errorf("the case after the emergency assessment has no D3_EMERGENCY deadline:\n%s", caseJSON)
	}
}

// TestDemoTokensFile checks the file the walk-through reads its tokens
// from: one shell assignment per demo user, holding the token printed on
// the console, mode 0600 even over an older file that was readable by
// others; and --demo-tokens without --demo is refused.
func TestDemoTokensFile(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "demo-tokens.env")
	if err := os.WriteFile(file, []byte("OLD='stale'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}

	code, _, stderr := mgRun(t, "serve", "--db", filepath.Join(dir, "x.db"), "--key-file", filepath.Join(dir, "x.key"), "--demo-tokens", file)
	if code != 1 || !strings.Contains(stderr, "demo-tokens") {
		t.Errorf("serve --demo-tokens without --demo: exit %d, stderr %q; want 1 and a message naming demo-tokens", code, stderr)
	}

	s := mgServe(t, filepath.Join(dir, "childcase.db"), filepath.Join(dir, "childcase.key"), "--demo", "--demo-tokens", file)
	byUser, _ := mgDemoTokens(t, s, true)
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %v, want 0600: it holds live tokens", file, mode)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(content)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, quoted, ok := strings.Cut(line, "=")
		value, unquoted := strings.CutPrefix(quoted, "'")
		value, closed := strings.CutSuffix(value, "'")
		if !ok || !unquoted || !closed || !mgTokenRE.MatchString(value) {
			t.Errorf("%s: line %q is not NAME='token'", file, line)
			continue
		}
		got[name] = value
	}
	want := map[string]string{}
	for user, token := range byUser {
		want[strings.ToUpper(strings.NewReplacer(".", "_").Replace(user))] = token
	}
	for name, token := range want {
		if got[name] != token {
			t.Errorf("%s: %s = %q, want the token printed on the console, %q", file, name, got[name], token)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s holds %d tokens, want %d (one per demo user, nothing left of the old file):\n%s", file, len(got), len(want), content)
	}
}
