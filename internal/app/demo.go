package app

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Demo data: real Hanoi units, invented people. Phường Ba Đình and Phường
// Hoàn Kiếm are communes in force since 2025-07-01; Phường Trúc Bạch and
// Quận Ba Đình were a commune and its district until 2025-06-30, so the
// district officer has a case to see.
var (
	demoBaDinh   = units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	demoHoanKiem = units.Key{Code: "00070", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	demoDistrict = units.Key{Code: "001", ValidFrom: vntime.Date{Year: 2020, Month: time.January, Day: 1}}
	demoCity     = units.Key{Code: "01", ValidFrom: vntime.Date{Year: 2020, Month: time.January, Day: 1}}
)

// demoUser is a demo account.
type demoUser struct {
	id, name, unit, phone string
	role                  model.Role
}

var demoUsers = []demoUser{
	{"demo.admin", "Quản trị viên (demo)", model.OrgSystem, "", model.RoleAdmin},
	{"hotline.operator", "Nguyễn Thị Lan (tổng đài 111)", model.OrgHotline111, "", model.RoleHotlineOperator},
	{"hotline.supervisor", "Trần Văn Minh (giám sát 111)", model.OrgHotline111, "", model.RoleHotlineSupervisor},
	{"badinh.worker", "Lê Thị Hoa (cán bộ BVTE phường Ba Đình)", access.UnitName(demoBaDinh), "0241 000 0001", model.RoleCommuneWorker},
	{"badinh.chair", "Phạm Quốc Hùng (Chủ tịch UBND phường Ba Đình)", access.UnitName(demoBaDinh), "0241 000 0002", model.RoleCommuneChair},
	{"hoankiem.worker", "Vũ Thị Mai (cán bộ BVTE phường Hoàn Kiếm)", access.UnitName(demoHoanKiem), "0241 000 0003", model.RoleCommuneWorker},
	{"badinh.district", "Đỗ Văn Nam (Phòng LĐTBXH quận Ba Đình)", access.UnitName(demoDistrict), "0241 000 0004", model.RoleDistrictOfficer},
	{"city.officer", "Hoàng Thị Thu (Sở Y tế Hà Nội)", access.UnitName(demoCity), "0241 000 0005", model.RoleCityOfficer},
	{"police.badinh", "Bùi Văn Tuấn (Công an phường Ba Đình)", model.PoliceUnitName("ca-phuong-ba-dinh"), "", model.RolePoliceLiaison},
	{"auditor", "Kiểm toán viên (demo)", model.OrgSystem, "", model.RoleAuditor},
}

// seedDemo makes sure the demo users, police units and cases exist, issues
// a fresh token for every demo user (secrets cannot be shown twice) and
// prints them, and writes them to tokensFile when it is not empty.
func seedDemo(ctx context.Context, id *identity.Service, in *intake.Service, eng *process.Engine, clk clock.Clock, out io.Writer, tokensFile string) error {
	now := clk.Now()
	sys := access.System("demo")
	for _, pu := range []model.PoliceUnit{
		{ID: "ca-phuong-ba-dinh", DisplayName: "Công an phường Ba Đình", Covers: []units.Key{demoBaDinh}},
		{ID: "ca-tp-ha-noi", DisplayName: "Công an thành phố Hà Nội"},
	} {
		if _, err := id.CreatePoliceUnit(ctx, sys, pu, idempotency.Request{}); err != nil && !errors.Is(err, model.ErrAlreadyExists) {
			return fmt.Errorf("demo: police unit %s: %w", pu.ID, err)
		}
	}
	seeded := false
	tokens := make(map[string]string, len(demoUsers))
	users := make(map[string]access.Principal, len(demoUsers))
	for _, du := range demoUsers {
		// Seeded, not created as an admin would: the district's officer
		// stands for the staff a reform left with their old unit.
		u, tok, _, err := id.SeedUser(ctx, sys, model.User{ID: du.id, DisplayName: du.name, Role: du.role, Unit: du.unit, Phone: du.phone}, 30*24*time.Hour)
		switch {
		case errors.Is(err, model.ErrAlreadyExists):
			seeded = true
			if u, err = id.GetUser(ctx, du.id); err != nil {
				return fmt.Errorf("demo: user %s: %w", du.id, err)
			}
			if tok, err = id.CreateToken(ctx, sys, du.id, 30*24*time.Hour, idempotency.Request{}); err != nil {
				return fmt.Errorf("demo: token for %s: %w", du.id, err)
			}
		case err != nil:
			return fmt.Errorf("demo: user %s: %w", du.id, err)
		}
		tokens[du.id] = tok.Secret
		users[du.id] = identity.Principal(u, "demo")
	}
	if !seeded {
		if err := seedDemoCases(ctx, in, eng, users, now); err != nil {
			return err
		}
	}
	password, totpSecret, err := setDemoPasswords(ctx, id, clk)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Demo users (tokens valid 30 days; each start with --demo issues new ones):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  USER\tROLE\tUNIT\tTOKEN")
	for _, du := range demoUsers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", du.id, du.role, du.unit, tokens[du.id])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var needTOTP []string
	for _, du := range demoUsers {
		if identity.NeedsSecondFactor(du.role) {
			needTOTP = append(needTOTP, du.id)
		}
	}
	fmt.Fprintf(out, "Console sign-in: every demo user above has the password %s (new at each start).\n", password)
	fmt.Fprintf(out, "%s also need a TOTP code: add the secret %s to an authenticator app, or run \"childcase totp %s\" for the current code.\n",
		access.JoinAnd(needTOTP), totpSecret, totpSecret)
	if tokensFile == "" {
		return nil
	}
	if err := writeDemoTokens(tokensFile, tokens); err != nil {
		return err
	}
	fmt.Fprintf(out, "Demo tokens written to %s: read them into a shell with \". %s\".\n", tokensFile, shellPath(tokensFile))
	return nil
}

// setDemoPasswords gives every demo user a new shared password, through
// the same one-time links people use, and enrols the roles that need a
// second factor with one TOTP secret, made once per database and kept
// (sealed) across starts. It returns both, to be printed.
func setDemoPasswords(ctx context.Context, id *identity.Service, clk clock.Clock) (password, totpSecret string, err error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("demo password: %w", err)
	}
	password = "demo-" + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
	for _, du := range demoUsers {
		if !identity.NeedsSecondFactor(du.role) || totpSecret != "" {
			continue
		}
		if totpSecret, err = id.EnrolledTOTPSecret(ctx, du.id); err != nil {
			return "", "", fmt.Errorf("demo: the TOTP secret of %s: %w", du.id, err)
		}
	}
	if totpSecret == "" {
		key, err := identity.NewTOTPKey("demo")
		if err != nil {
			return "", "", err
		}
		totpSecret = key.Secret
	}
	sys := access.System("demo")
	for _, du := range demoUsers {
		link, err := id.ResetPassword(ctx, sys, du.id, idempotency.Request{})
		if err != nil {
			return "", "", fmt.Errorf("demo: password of %s: %w", du.id, err)
		}
		if err := setDemoPassword(ctx, id, clk, du.role, identity.SetPassword{LinkSecret: link.Secret, Password: password}, totpSecret); err != nil {
			return "", "", fmt.Errorf("demo: password of %s: %w", du.id, err)
		}
	}
	return password, totpSecret, nil
}

// setDemoPassword uses a demo user's link. Enrolment proves the TOTP
// secret with a code, and a code is accepted once: it uses the previous
// step's, so that the code a newcomer reads now still signs them in. A
// step that ends between making the code and checking it is tried again.
func setDemoPassword(ctx context.Context, id *identity.Service, clk clock.Clock, role model.Role, set identity.SetPassword, totpSecret string) error {
	var err error
	for range 2 {
		if identity.NeedsSecondFactor(role) {
			set.TOTPSecret = totpSecret
			if set.TOTPCode, err = identity.TOTPCode(totpSecret, clk.Now().Add(-30*time.Second)); err != nil {
				return err
			}
		}
		var fe *model.FieldError
		if _, err = id.SetPasswordWithLink(ctx, set); !errors.As(err, &fe) || fe.Field != "totp_code" {
			return err
		}
	}
	return err
}

// demoMayRun refuses --demo on a database that holds data of its own:
// the demo prints an admin's token and one password for users of every
// role, a city officer who sees every case of the city among them, and
// adds made-up cases to the statistics. On a production database (a
// stray CHILDCASE_DEMO=true) that opened the real cases to whoever reads
// the journal. It runs on a database this start made (bootstrap created
// its first admin) or one an earlier --demo made (its admin is there).
func demoMayRun(ctx context.Context, ids *identity.Service, newDatabase bool, store string) error {
	if newDatabase {
		return nil
	}
	_, err := ids.GetUser(ctx, demoUsers[0].id)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrNotFound):
		return fmt.Errorf("--demo: %s is not a demo database: it holds data of its own, and the demo would print an admin's token and one password for users of every role; "+
			"run the demo on a new --db, or start without --demo", store)
	default:
		return fmt.Errorf("--demo: %w", err)
	}
}

// writeDemoTokens writes one shell assignment per demo user to path, named
// after the user (badinh.worker: BADINH_WORKER='cc_...'). The file holds
// live tokens, so it is written with mode 0600 under a temporary name and
// renamed into place: a reader never sees it half written, and a file left
// by an earlier start, whatever its mode, is replaced rather than reused.
func writeDemoTokens(path string, tokens map[string]string) error {
	var b strings.Builder
	b.WriteString("# childcase demo tokens (live credentials: keep this file private)\n")
	for _, du := range demoUsers {
		// Token secrets are cc_, hex and base64url: nothing a shell
		// interprets inside single quotes.
		fmt.Fprintf(&b, "%s='%s'\n", demoTokenVar(du.id), tokens[du.id])
	}
	if err := writePrivateFile(path, []byte(b.String())); err != nil {
		return fmt.Errorf("demo tokens %s: %w", path, err)
	}
	return nil
}

// writePrivateFile writes data to a new file of mode 0600 whatever the
// umask, under a temporary name beside path, fsyncs it and renames it into
// place: a reader never sees it half written, and whatever stood at path
// (a file of an earlier run, whatever its mode, or a symlink planted
// there) is replaced, never written through. The rename is durable once
// the folder is synced (the caller's, where it must be).
func writePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// demoTokenVar is the shell variable of a demo user's token.
func demoTokenVar(userID string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(userID))
}

// shellPath is path as "." needs it: a bare file name is looked up in
// $PATH, so it gets a "./".
func shellPath(path string) string {
	if strings.ContainsRune(path, filepath.Separator) {
		return path
	}
	return "." + string(filepath.Separator) + path
}

// seedDemoCases records a handful of reports, as the demo users would.
func seedDemoCases(ctx context.Context, in *intake.Service, eng *process.Engine, users map[string]access.Principal, now time.Time) error {
	age := func(n int32) *int32 { return &n }
	report := func(by, commune string, at time.Time, callType model.CallType, abuse []model.AbuseForm, child model.Child, narrative string) error {
		_, err := in.CreateReport(ctx, users[by], intake.CreateReportInput{
			IncidentCommuneCode: commune,
			Report: model.Report{
				Channel: model.ChannelHotline111, ReceiveTime: at, CallType: callType,
				Children: []model.Child{child}, SuspectedAbuse: abuse, Narrative: narrative,
				Reporter: model.Reporter{FullName: "Người báo tin (demo)", Phone: "0912 000 111", RelationToChild: "hàng xóm"},
			},
		})
		if err != nil {
			return fmt.Errorf("demo: report by %s: %w", by, err)
		}
		return nil
	}
	steps := []func() error{
		func() error {
			return report("hotline.operator", demoBaDinh.Code, now.Add(-3*time.Hour), model.CallIntervention,
				[]model.AbuseForm{model.AbuseViolence}, model.Child{FullName: "Trẻ A (demo)", EstimatedAge: age(9), Sex: model.SexMale},
				"Hàng xóm nghe thấy tiếng trẻ khóc và tiếng đánh nhiều đêm liền (dữ liệu demo).")
		},
		func() error {
			return report("hotline.operator", demoHoanKiem.Code, now.Add(-26*time.Hour), model.CallIntervention,
				[]model.AbuseForm{model.AbuseNeglect}, model.Child{FullName: "Trẻ B (demo)", EstimatedAge: age(4), Sex: model.SexFemale},
				"Trẻ nhỏ thường bị để một mình ở nhà cả ngày (dữ liệu demo).")
		},
		func() error {
			return report("badinh.worker", demoBaDinh.Code, now.Add(-50*time.Hour), model.CallIntervention,
				[]model.AbuseForm{model.AbuseSexual}, model.Child{FullName: "Trẻ C (demo)", EstimatedAge: age(13), Sex: model.SexFemale},
				"Giáo viên báo trẻ có dấu hiệu bị xâm hại (dữ liệu demo).")
		},
		func() error {
			return report("city.officer", demoBaDinh.Code, time.Date(2025, time.March, 10, 2, 0, 0, 0, time.UTC), model.CallIntervention,
				[]model.AbuseForm{model.AbuseExploitation}, model.Child{FullName: "Trẻ D (demo)", EstimatedAge: age(15), Sex: model.SexMale},
				"Trẻ bị ép bán hàng rong đến khuya (dữ liệu demo, năm 2025, quận Ba Đình).")
		},
		func() error {
			return report("hotline.operator", demoBaDinh.Code, now.Add(-1*time.Hour), model.CallCounselling,
				nil, model.Child{EstimatedAge: age(16), Sex: model.SexUnknown}, "Tư vấn tâm lý cho học sinh (dữ liệu demo).")
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	// The worker refers the sexual-abuse case, and the first case, to the
	// ward police so the police liaison has something to see.
	worker := users["badinh.worker"]
	cases, _, err := in.ListCases(ctx, worker, intake.CaseQuery{Limit: 50})
	if err != nil {
		return fmt.Errorf("demo: list cases: %w", err)
	}
	for _, c := range cases {
		req := process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}
		if _, err := eng.ReferToPolice(ctx, worker, req, model.PoliceUnitName("ca-phuong-ba-dinh"), "Nghi vấn xâm hại trẻ em (demo)"); err != nil {
			return fmt.Errorf("demo: refer %s: %w", c.Number, err)
		}
	}
	return nil
}
