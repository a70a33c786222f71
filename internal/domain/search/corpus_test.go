package search

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The quality corpus (testdata/corpus.json) is synthetic: children made
// up from common Vietnamese family, middle and given names, birth dates,
// Hanoi communes in force in 2026 and phone numbers, each with the
// variants a second call about them brings. generateCorpus makes it from
// a fixed seed; TestCorpusIsGenerated keeps the committed file equal to
// what it makes, and
//
//	GOTOOLCHAIN=go1.27.3 go test ./internal/domain/search -run TestCorpusIsGenerated -update
//
// writes it again after a change to the generator.

var update = flag.Bool("update", false, "rewrite testdata/corpus.json from the generator")

const (
	corpusSeed = 20260312
	corpusSize = 600
	corpusPath = "testdata/corpus.json"
)

// corpusChild is one child of the corpus: what the first report said,
// and the variants of a second call.
type corpusChild struct {
	Name          string `json:"name"`
	BirthDate     string `json:"birth_date"`
	Commune       string `json:"commune"` // a unit key, code@valid-from
	Caregiver     string `json:"caregiver"`
	Phone         string `json:"phone"`
	NoDiacritics  string `json:"no_diacritics"`  // the name typed without diacritics
	Swapped       string `json:"swapped"`        // given name first
	Typo          string `json:"typo"`           // one syllable mistyped
	PhoneFormat   string `json:"phone_format"`   // the phone written another way
	EstimatedAge  int32  `json:"estimated_age"`  // the caller's guess instead of the birth date
	EstimatedName string `json:"estimated_name"` // the name as the caller of the estimate gives it
}

var (
	corpusFamily = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Mai", "Đoàn"}
	corpusMiddle = []string{"Văn", "Thị", "Đức", "Minh", "Ngọc", "Thu", "Hồng", "Quốc", "Thanh", "Gia", "Bảo", "Khánh", "Hữu", "Xuân", "Phương", "Diệu", "Tuấn", "Thùy"}
	corpusGiven  = []string{
		"An", "Anh", "Bình", "Châu", "Chi", "Cường", "Dũng", "Duy", "Đạt", "Giang", "Hà", "Hải", "Hân", "Hiếu", "Hoa", "Huy", "Hùng", "Hương",
		"Khang", "Khoa", "Lan", "Linh", "Long", "Mai", "Minh", "My", "Nam", "Ngân", "Ngọc", "Nhung", "Nhi", "Phúc", "Phương", "Quân", "Quang",
		"Sơn", "Tâm", "Thảo", "Thắng", "Thủy", "Tiến", "Trang", "Trí", "Trung", "Tú", "Tuấn", "Uyên", "Vân", "Việt", "Vy", "Yến", "Đông", "Khôi", "Lộc",
	}
	corpusCaregiverGiven = []string{"Hùng", "Lan", "Tuấn", "Hoa", "Dũng", "Hằng", "Thắng", "Loan", "Bình", "Nga", "Sơn", "Thủy"}
	typoLetters          = "abcdeghiklmnopqrstuvxy"
)

// generateCorpus makes the corpus from seed.
func generateCorpus(t *testing.T, reg *units.Registry, seed uint64) []corpusChild {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	communes := reg.List(units.Filter{Level: units.LevelCommune, AsOf: vntime.Date{Year: 2026, Month: time.January, Day: 1}})
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	day := vntime.Date{Year: 2026, Month: time.March, Day: 12}
	out := make([]corpusChild, 0, corpusSize)
	for range corpusSize {
		syl := []string{pick(corpusFamily), pick(corpusMiddle)}
		if rng.IntN(3) == 0 { // a second middle name, as in Nguyễn Thị Hồng Nhung
			syl = append(syl, pick(corpusMiddle))
		}
		syl = append(syl, pick(corpusGiven))
		birth := day.AddDays(-(365 + rng.IntN(16*365)))
		age := int32(day.Year - birth.Year)
		if day.Month < birth.Month || (day.Month == birth.Month && day.Day < birth.Day) {
			age--
		}
		if rng.IntN(3) == 0 { // a caller's guess is often a year off
			age += int32(rng.IntN(2)*2 - 1)
		}
		phone := fmt.Sprintf("09%d%07d", rng.IntN(10), rng.IntN(10_000_000))
		n := len(syl)
		swapped := append([]string{syl[n-1]}, syl[:n-1]...)
		c := corpusChild{
			Name:          strings.Join(syl, " "),
			BirthDate:     birth.String(),
			Commune:       communes[rng.IntN(len(communes))].Key.String(),
			Caregiver:     syl[0] + " Văn " + pick(corpusCaregiverGiven),
			Phone:         phone[:4] + " " + phone[4:7] + " " + phone[7:],
			NoDiacritics:  Fold(strings.Join(syl, " ")),
			Swapped:       strings.Join(swapped, " "),
			Typo:          typoName(rng, syl),
			PhoneFormat:   phoneVariant(rng, phone),
			EstimatedAge:  max(age, 0),
			EstimatedName: strings.Join(syl, " "),
		}
		out = append(out, c)
	}
	return out
}

// typoName returns the name with one edit (a letter changed, dropped,
// doubled or two swapped) in one syllable, typed without diacritics in
// that syllable as a hurried operator would.
func typoName(rng *rand.Rand, syl []string) string {
	out := append([]string{}, syl...)
	i := rng.IntN(len(syl))
	s := []byte(Fold(syl[i]))
	for {
		t := append([]byte{}, s...)
		j := rng.IntN(len(t))
		switch rng.IntN(4) {
		case 0:
			t[j] = typoLetters[rng.IntN(len(typoLetters))]
		case 1:
			if len(t) > 1 {
				t = append(t[:j], t[j+1:]...)
			}
		case 2:
			t = append(t[:j+1], t[j:]...)
		case 3:
			if j+1 < len(t) {
				t[j], t[j+1] = t[j+1], t[j]
			}
		}
		if !bytes.Equal(t, s) {
			out[i] = string(t)
			return strings.Join(out, " ")
		}
	}
}

// phoneVariant writes a 10-digit 0xxx number another way.
func phoneVariant(rng *rand.Rand, phone string) string {
	switch rng.IntN(4) {
	case 0:
		return "+84 " + phone[1:4] + " " + phone[4:7] + " " + phone[7:]
	case 1:
		return "84" + phone[1:]
	case 2:
		return phone[:4] + "." + phone[4:7] + "." + phone[7:]
	}
	return phone
}

func loadCorpus(t *testing.T) []corpusChild {
	t.Helper()
	raw, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusChild
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v", corpusPath, err)
	}
	return out
}

func TestCorpusIsGenerated(t *testing.T) {
	got, err := json.MarshalIndent(generateCorpus(t, testRegistry(t), corpusSeed), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(corpusPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(corpusPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the generator makes; run the test with -update", corpusPath)
	}
	if len(loadCorpus(t)) < 500 {
		t.Fatalf("the corpus has fewer than 500 children")
	}
}

func testRegistry(t testing.TB) *units.Registry {
	t.Helper()
	reg, err := units.Load()
	if err != nil {
		t.Fatalf("units.Load: %v", err)
	}
	return reg
}
