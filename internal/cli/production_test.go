package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the backup timer's zone, Asia/Ho_Chi_Minh, on a machine without tzdata
)

// The README's section "Running it in production" holds the systemd units
// an operator copies; they are tested from there, so there is one copy.
const readmePath = "../../README.md"

// installedBinary is where the README installs childcase; the test points
// it at an executable of its own, because systemd-analyze verify refuses a
// unit whose ExecStart is not there.
const installedBinary = "/usr/local/bin/childcase"

// unitBlock matches a fenced ini block whose first line names the unit
// file it is: "# /etc/systemd/system/NAME".
var unitBlock = regexp.MustCompile("(?s)```ini\n# /etc/systemd/system/([a-z.-]+)\n(.*?)```")

func readmeUnits(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]string{}
	for _, m := range unitBlock.FindAllStringSubmatch(string(readme), -1) {
		units[m[1]] = m[2]
	}
	for _, name := range []string{"childcase.service", "childcase-backup.service", "childcase-backup.timer"} {
		if units[name] == "" {
			t.Fatalf("README has no ```ini block starting \"# /etc/systemd/system/%s\"", name)
		}
	}
	return units
}

// productionSection is the README's section "Running it in production".
func productionSection(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\n## Running it in production\n")
	end := strings.Index(text, "\n## Running on etcd\n")
	if start < 0 || end < start {
		t.Fatal("README.md: no section Running it in production before Running on etcd")
	}
	return text[start:end]
}

// directives returns a unit's Key=Value lines (continuations joined),
// every value of a key in order.
func directives(unit string) map[string][]string {
	out := map[string][]string{}
	unit = strings.ReplaceAll(unit, "\\\n", " ")
	for line := range strings.Lines(unit) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[k] = append(out[k], strings.TrimSpace(v))
		}
	}
	return out
}

// TestProductionUnitSandbox checks what the README promises of the
// service's unit: its own user, the sandbox, the database in the state
// directory and the key file outside it, and a command line serve accepts.
func TestProductionUnitSandbox(t *testing.T) {
	d := directives(readmeUnits(t)["childcase.service"])
	for key, want := range map[string]string{
		"User": "childcase", "Group": "childcase", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"StateDirectory": "childcase", "StateDirectoryMode": "0700", "PrivateTmp": "yes", "ProtectHome": "yes",
	} {
		if !slices.Contains(d[key], want) {
			t.Errorf("childcase.service: %s=%v, want %s", key, d[key], want)
		}
	}
	if len(d["ExecStart"]) != 1 {
		t.Fatalf("childcase.service: ExecStart %q, want one", d["ExecStart"])
	}
	args := strings.Fields(d["ExecStart"][0])
	if len(args) < 2 || args[0] != installedBinary || args[1] != "serve" {
		t.Fatalf("childcase.service: ExecStart %q, want %s serve ...", d["ExecStart"][0], installedBinary)
	}
	for _, name := range []string{"DB", "KEY_FILE", "TLS_CERT", "TLS_KEY", "GRPC_ADDR", "HTTP_ADDR", "SHUTDOWN_TIMEOUT"} {
		t.Setenv(EnvPrefix+name, "") // only the unit's flags count
	}
	cfg, err := serveConfig(args[2:], io.Discard)
	if err != nil {
		t.Fatalf("serve refuses the unit's flags %q: %v", args[2:], err)
	}
	if filepath.Dir(cfg.DBPath) != "/var/lib/childcase" {
		t.Errorf("--db %s: want it in the StateDirectory /var/lib/childcase", cfg.DBPath)
	}
	// The key is what makes a backup readable: it must not sit with the
	// database, where a copy of one carries the other.
	if strings.HasPrefix(cfg.KeyFile, "/var/lib/childcase/") || !slices.Contains(d["ReadWritePaths"], filepath.Dir(cfg.KeyFile)) {
		t.Errorf("--key-file %s: want it outside /var/lib/childcase, in a directory of ReadWritePaths %v (a rotation writes there)", cfg.KeyFile, d["ReadWritePaths"])
	}
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		t.Errorf("childcase.service serves without TLS: %q", args)
	}
	// systemd kills the service when a stop outlasts TimeoutStopSec: it
	// must leave the in-flight calls their --shutdown-timeout, and the
	// database its close after them.
	stopTimeout, err := time.ParseDuration(strings.Join(d["TimeoutStopSec"], ""))
	if err != nil || stopTimeout < cfg.ShutdownTimeout+10*time.Second {
		t.Errorf("childcase.service: TimeoutStopSec=%v (%v), want at least the %v of --shutdown-timeout and 10 s to close the database",
			d["TimeoutStopSec"], err, cfg.ShutdownTimeout)
	}
}

// TestProductionBackupUnit checks that the nightly backup runs childcase
// backup and that every variable its unit and the README's backup.env set
// is an environment twin of a backup flag: a misspelt one would be ignored
// and the backup would fail every night.
func TestProductionBackupUnit(t *testing.T) {
	d := directives(readmeUnits(t)["childcase-backup.service"])
	if len(d["ExecStart"]) != 1 || !strings.Contains(d["ExecStart"][0], "exec "+installedBinary+" backup --to /var/backups/childcase/") {
		t.Errorf("childcase-backup.service: ExecStart %q, want %s backup --to /var/backups/childcase/...", d["ExecStart"], installedBinary)
	}
	// The file is named to the second: named to the minute, a run started
	// by hand in the minute of another (the drill below, after the
	// timer's) found its file taken and failed the unit.
	if stamp := regexp.MustCompile(`date -u \+(\S+)\)`).FindStringSubmatch(strings.Join(d["ExecStart"], " ")); stamp == nil || !strings.Contains(strings.ReplaceAll(stamp[1], "%%", "%"), "%S") {
		t.Errorf("childcase-backup.service: ExecStart %q names its file by a date without seconds (%%S)", d["ExecStart"])
	}
	if !slices.Contains(d["ReadWritePaths"], "/var/backups/childcase") || !slices.Contains(d["User"], "childcase") {
		t.Errorf("childcase-backup.service: ReadWritePaths %v, User %v; want /var/backups/childcase and childcase", d["ReadWritePaths"], d["User"])
	}
	var help bytes.Buffer
	if code := Main(t.Context(), []string{"backup", "-h"}, &help, io.Discard); code != 0 {
		t.Fatalf("backup -h exited %d: %s", code, help.String())
	}
	names := []string{"CHILDCASE_TOKEN"} // in backup.env
	for _, env := range d["Environment"] {
		name, _, _ := strings.Cut(env, "=")
		names = append(names, name)
	}
	for _, name := range names {
		if !strings.Contains(help.String(), "(env "+name+")") {
			t.Errorf("childcase-backup.service sets %s, which no flag of backup reads:\n%s", name, help.String())
		}
	}
}

// TestProductionBackupUnitCleansUp runs the clean-up commands of the
// README's backup unit (its ExecStartPost lines) on a folder of backups:
// they remove the backups older than 30 days and what a backup killed
// outright left (FILE.tmp, which a signal's exit removes itself), and
// keep the recent backups and a FILE.tmp a backup may still be writing.
func TestProductionBackupUnitCleansUp(t *testing.T) {
	const folder = "/var/backups/childcase"
	posts := directives(readmeUnits(t)["childcase-backup.service"])["ExecStartPost"]
	if len(posts) == 0 {
		t.Fatal("childcase-backup.service has no ExecStartPost clean-up")
	}
	dir := t.TempDir()
	now := time.Now()
	files := map[string]struct {
		age  time.Duration
		kept bool
	}{
		"childcase-2026-10-01T1930Z.db":     {31 * 24 * time.Hour, false},
		"childcase-2026-11-30T1930Z.db":     {24 * time.Hour, true},
		"childcase-2026-11-29T1930Z.db.tmp": {2 * 24 * time.Hour, false},
		"childcase-2026-12-01T1930Z.db.tmp": {time.Minute, true},
		"notes.txt":                         {40 * 24 * time.Hour, true},
	}
	for name, f := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, now.Add(-f.age), now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
	}
	for _, post := range posts {
		// systemd passes a word on as it is, with no shell to expand it.
		args := strings.Fields(strings.ReplaceAll(post, folder, dir))
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("ExecStartPost=%s: %v\n%s", post, err, out)
		}
	}
	for name, f := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if kept := err == nil; kept != f.kept {
			t.Errorf("%s (%s old): kept %v after the unit's clean-up, want %v", name, f.age, kept, f.kept)
		}
	}
}

// TestProductionUnitsVerify runs systemd-analyze verify on the README's
// units. It needs no running systemd; CI installs the tool (package
// systemd), so there it must not skip.
func TestProductionUnitsVerify(t *testing.T) {
	units := readmeUnits(t)
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing; .ci/run installs it (apt-get install systemd)")
		}
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "childcase")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for name, text := range units {
		p := filepath.Join(dir, name)
		text = strings.ReplaceAll(text, installedBinary, bin)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var out bytes.Buffer
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	// Any output is a finding: verify exits 0 on unknown keys and bad
	// values, which systemd ignores with a warning.
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("systemd-analyze verify %v: %v\n%s", paths, err, out.String())
	}
	// Both services hold secrets (the key file, an admin token): their
	// sandbox must keep systemd's exposure score at 2.0 of 10 or below
	// ("OK"; the threshold counts in tenths).
	for _, p := range paths {
		if filepath.Ext(p) != ".service" {
			continue
		}
		out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", p).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: %v; its sandbox got weaker:\n%s", filepath.Base(p), err, out)
		}
	}
}

// TestProductionCommandsParse: every childcase command the production
// section shows, in its console blocks and in its text (the restore
// drill, a restore on the server, a key rotation, the version), names a
// subcommand and flags the binary has. Each runs in an empty folder, with
// the tokens a placeholder and the server's name a closed port, so that
// it fails on what it cannot find (exit 1), never on its usage (exit 2).
func TestProductionCommandsParse(t *testing.T) {
	section := productionSection(t)
	var commands []string
	for _, block := range regexp.MustCompile("(?s)```console\n(.*?)```").FindAllStringSubmatch(section, -1) {
		for _, line := range strings.Split(block[1], "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimPrefix(line, "./"), "childcase "); ok {
				commands = append(commands, rest)
			}
		}
	}
	for _, m := range regexp.MustCompile("`childcase ([^`]+)`").FindAllStringSubmatch(section, -1) {
		commands = append(commands, m[1])
	}
	if len(commands) < 6 {
		t.Fatalf("found %d childcase commands in the production section, want the drill's, the restore's, the rotation's and the version's: %q", len(commands), commands)
	}
	opsClearEnv(t)
	t.Chdir(t.TempDir())
	placeholders := strings.NewReplacer("childcase.example.vn:9111", "127.0.0.1:1", "$ADMIN", "cc_0000000000000000_placeholder")
	for _, c := range commands {
		c, _, _ = strings.Cut(c, "#")
		// A command line is readable by every user of the machine
		// (ps, /proc/PID/cmdline) while it runs: on the server a token
		// goes in CHILDCASE_TOKEN, as the backup unit's does.
		if strings.Contains(c, "--token") {
			t.Errorf("childcase %s: a token on the command line of a production command", c)
		}
		args := strings.Fields(placeholders.Replace(c))
		if args[0] == "serve" {
			// Not run: it would serve. Its flags are parsed as a start
			// parses them; the paths need not exist for that.
			if _, err := serveConfig(args[1:], io.Discard); err != nil && (errors.Is(err, errUsage) || strings.Contains(err.Error(), "flag provided but not defined")) {
				t.Errorf("childcase %s: %v", c, err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		var stderr bytes.Buffer
		code := Main(ctx, args, io.Discard, &stderr)
		cancel()
		if code == 2 || strings.Contains(stderr.String(), "flag provided but not defined") {
			t.Errorf("childcase %s: exit %d, its usage refused:\n%s", c, code, stderr.String())
		}
	}
}

// TestProductionBackupNamesAreTheUnitsOwn: the backup unit names each
// file by the time `date` gives its shell, and the timer starts it at
// night in Hanoi; the names the section shows (the restore drill's, the
// restore on the server) must be names the unit makes at that time, and
// a name must say its zone. The README showed childcase-2026-12-01T0230.db,
// the Hanoi time, for a file the unit names by UTC 19:30 the day before:
// an operator choosing the last backup before an incident by its name
// would take one 7 hours later than they believed.
func TestProductionBackupNamesAreTheUnitsOwn(t *testing.T) {
	units := readmeUnits(t)
	execStart := strings.Join(directives(units["childcase-backup.service"])["ExecStart"], " ")
	m := regexp.MustCompile(`childcase-\$\$\(date (-u )?\+(\S+)\)\.db`).FindStringSubmatch(execStart)
	if m == nil {
		t.Fatalf("childcase-backup.service: ExecStart %q names no file childcase-$$(date [-u] +FORMAT).db", execStart)
	}
	utc, format := m[1] != "", strings.ReplaceAll(m[2], "%%", "%")
	if !utc {
		t.Fatalf("childcase-backup.service: date without -u names the file in the server's own zone, which the name does not say")
	}
	layout, err := strftimeLayout(format)
	if err != nil {
		t.Fatalf("childcase-backup.service: date +%s: %v", format, err)
	}
	if !strings.HasSuffix(layout, "Z") {
		t.Errorf("childcase-backup.service: date -u +%s names a file by UTC without saying so (end it with Z)", format)
	}

	// When the timer starts the unit: OnCalendar=*-*-* HH:MM:SS ZONE.
	cal := strings.Join(directives(units["childcase-backup.timer"])["OnCalendar"], " ")
	var hh, mm, ss int
	var zoneName string
	if _, err := fmt.Sscanf(cal, "*-*-* %d:%d:%d %s", &hh, &mm, &ss, &zoneName); err != nil {
		t.Fatalf("childcase-backup.timer: OnCalendar=%q, want *-*-* HH:MM:SS ZONE: %v", cal, err)
	}
	zone, err := time.LoadLocation(zoneName)
	if err != nil {
		t.Fatal(err)
	}

	shown := regexp.MustCompile(`childcase-(\d{4}-\d{2}-\d{2})T[0-9A-Z]*\.db`).FindAllStringSubmatch(productionSection(t), -1)
	if len(shown) < 2 {
		t.Fatalf("the production section shows %d backup names, want the drill's and the restore's", len(shown))
	}
	for _, s := range shown {
		day, err := time.ParseInLocation("2006-01-02", s[1], zone)
		if err != nil {
			t.Fatal(err)
		}
		// The unit runs at HH:MM in the zone, on the day the name says
		// or, named by UTC, on the next one.
		var could []string
		for _, d := range []time.Time{day, day.AddDate(0, 0, 1)} {
			at := time.Date(d.Year(), d.Month(), d.Day(), hh, mm, ss, 0, zone)
			could = append(could, "childcase-"+at.UTC().Format(layout)+".db")
		}
		if !slices.Contains(could, s[0]) {
			t.Errorf("the production section shows the backup %s, a name the unit never makes (at %02d:%02d %s it makes %s)",
				s[0], hh, mm, zoneName, strings.Join(could, " or "))
		}
	}
}

// strftimeLayout turns the date(1) format of the backup unit into a Go
// time layout; it knows only the conversions such a name needs.
func strftimeLayout(format string) (string, error) {
	verbs := map[byte]string{'Y': "2006", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05"}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		if i+1 == len(format) || verbs[format[i+1]] == "" {
			return "", fmt.Errorf("a conversion this test does not know at %q", format[i:])
		}
		b.WriteString(verbs[format[i+1]])
		i++
	}
	return b.String(), nil
}
