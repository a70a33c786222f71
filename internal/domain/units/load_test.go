package units

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// dataFS returns the embedded data files as a map that tests may change.
func dataFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, name := range []string{file2020, file202501, file202507, fileMapping} {
		data, err := fs.ReadFile(embedded, "data/"+name)
		if err != nil {
			t.Fatal(err)
		}
		m[name] = &fstest.MapFile{Data: data}
	}
	return m
}

// edit decodes a data file, lets change modify it, and encodes it again.
func edit(t *testing.T, fsys fstest.MapFS, name string, change func(doc map[string]any)) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(fsys[name].Data, &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	fsys[name] = &fstest.MapFile{Data: data}
}

// item returns element i of the array doc[field], as an object.
func item(doc map[string]any, field string, i int) map[string]any {
	return doc[field].([]any)[i].(map[string]any)
}

// mappingEntry returns the mapping entry of the new commune with the given
// code.
func mappingEntry(doc map[string]any, code string) map[string]any {
	for _, e := range doc["mapping"].([]any) {
		if e := e.(map[string]any); e["code"] == code {
			return e
		}
	}
	panic("no mapping entry " + code)
}

func TestLoadEmbeddedIsLoad(t *testing.T) {
	// The test harness below starts from exactly the data Load reads.
	if _, err := load(dataFS(t)); err != nil {
		t.Fatalf("load of unchanged data: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // file to change, or delete when change is nil
		change  func(doc map[string]any)
		wantErr []string // substrings of the error
	}{
		{
			name:    "missing file",
			file:    file202507,
			wantErr: []string{file202507},
		},
		{
			name:    "district renamed in the second file",
			file:    file202501,
			change:  func(d map[string]any) { item(d, "districts", 0)["name"] = "Ba Dinh" },
			wantErr: []string{"units: " + file202501 + ": district 001", `"Ba Dinh"`, file2020},
		},
		{
			name:    "district type changed in the second file",
			file:    file202501,
			change:  func(d map[string]any) { item(d, "districts", 0)["type"] = "huyen" },
			wantErr: []string{"units: " + file202501 + ": district 001"},
		},
		{
			name: "district missing in the second file",
			file: file202501,
			change: func(d map[string]any) {
				d["districts"] = d["districts"].([]any)[1:]
			},
			wantErr: []string{"units: " + file202501 + ": 29 districts, but 30"},
		},
		{
			name: "name not NFC",
			file: file2020,
			change: func(d map[string]any) {
				item(d, "communes", 0)["name"] = norm.NFD.String("Phúc Xá")
			},
			wantErr: []string{"units: " + file2020 + ": commune 00001@2020-01-01", "not in Unicode NFC"},
		},
		{
			name:    "empty name",
			file:    file202507,
			change:  func(d map[string]any) { item(d, "communes", 0)["name"] = "" },
			wantErr: []string{"units: " + file202507, "bad name"},
		},
		{
			name:    "commune with a district type",
			file:    file2020,
			change:  func(d map[string]any) { item(d, "communes", 0)["type"] = "quan" },
			wantErr: []string{"units: " + file2020, `type "quan" is not a type of commune`},
		},
		{
			name:    "short code",
			file:    file2020,
			change:  func(d map[string]any) { item(d, "communes", 0)["code"] = "0001" },
			wantErr: []string{"units: " + file2020, `code "0001" is not 5 digits`},
		},
		{
			name: "duplicate code in one file",
			file: file202507,
			change: func(d map[string]any) {
				d["communes"] = append(d["communes"].([]any), item(d, "communes", 0))
			},
			wantErr: []string{"units: " + file202507 + ": duplicate unit 00004@2025-07-01"},
		},
		{
			name:    "parent missing",
			file:    file2020,
			change:  func(d map[string]any) { item(d, "communes", 0)["district"] = "999" },
			wantErr: []string{"units: " + file2020 + ": 00001@2020-01-01: parent 999@2020-01-01 does not exist"},
		},
		{
			name:    "parent not in force over the child's validity",
			file:    file202507,
			change:  func(d map[string]any) { item(d, "communes", 0)["district"] = "001" },
			wantErr: []string{"units: " + file202507 + ": 00004@2025-07-01", "parent 001@2020-01-01", "not in force"},
		},
		{
			name:    "wrong province",
			file:    file2020,
			change:  func(d map[string]any) { d["province"].(map[string]any)["code"] = "79" },
			wantErr: []string{"units: " + file2020 + ": province is 79"},
		},
		{
			name:    "missing valid_to",
			file:    file2020,
			change:  func(d map[string]any) { delete(d, "valid_to") },
			wantErr: []string{"units: " + file2020 + ": missing valid_to"},
		},
		{
			name:    "valid_to on the current set",
			file:    file202507,
			change:  func(d map[string]any) { d["valid_to"] = "2030-01-01" },
			wantErr: []string{"units: " + file202507 + ": unexpected valid_to"},
		},
		{
			name:    "gap between sets",
			file:    file202501,
			change:  func(d map[string]any) { d["valid_from"] = "2025-01-02" },
			wantErr: []string{"units: " + file202501 + ": valid_from is 2025-01-02, want 2025-01-01"},
		},
		{
			name:    "invalid date",
			file:    file202501,
			change:  func(d map[string]any) { d["valid_to"] = "2025-06-31" },
			wantErr: []string{"units: " + file202501, "day 31 out of range"},
		},
		{
			name:    "mapping from an unknown commune",
			file:    fileMapping,
			change:  func(d map[string]any) { item(mappingEntry(d, "00004"), "from", 0)["code"] = "99999" },
			wantErr: []string{"units: " + fileMapping + ": 99999@2025-01-01 is not a commune of " + file202501},
		},
		{
			name:    "mapping name differs",
			file:    fileMapping,
			change:  func(d map[string]any) { item(mappingEntry(d, "00004"), "from", 0)["name"] = "Truc Bach" },
			wantErr: []string{"units: " + fileMapping + ": 00004@2025-01-01", `"Truc Bach"`},
		},
		{
			name:    "mapping district differs",
			file:    fileMapping,
			change:  func(d map[string]any) { item(mappingEntry(d, "00004"), "from", 0)["district"] = "002" },
			wantErr: []string{"units: " + fileMapping + ": 00004@2025-01-01 is in district 002"},
		},
		{
			name:    "mapping to an unknown commune",
			file:    fileMapping,
			change:  func(d map[string]any) { mappingEntry(d, "00004")["code"] = "00001" },
			wantErr: []string{"units: " + fileMapping + ": 00001@2025-07-01 is not a commune of " + file202507},
		},
		{
			name:    "bad link value",
			file:    fileMapping,
			change:  func(d map[string]any) { item(mappingEntry(d, "00004"), "from", 0)["link"] = "some" },
			wantErr: []string{"units: " + fileMapping, `link "some"`},
		},
		{
			name: "new commune not mapped",
			file: fileMapping,
			change: func(d map[string]any) {
				d["mapping"] = d["mapping"].([]any)[1:]
			},
			wantErr: []string{"units: " + fileMapping + ": 00004@2025-07-01 of " + file202507 + " is not mapped"},
		},
		{
			name: "old commune linked whole and elsewhere",
			file: fileMapping,
			change: func(d map[string]any) {
				// Trúc Bạch went whole into Ba Đình; also link it to Hoàn Kiếm.
				e := mappingEntry(d, "00070")
				e["from"] = append(e["from"].([]any), item(mappingEntry(d, "00004"), "from", 0))
			},
			wantErr: []string{"units: " + fileMapping + ": 00004@2025-01-01 went whole into one new commune but has 2 links"},
		},
		{
			name: "old commune with a single partial link",
			file: fileMapping,
			change: func(d map[string]any) {
				item(mappingEntry(d, "00004"), "from", 0)["link"] = "partial"
			},
			wantErr: []string{"units: " + fileMapping + ": 00004@2025-01-01 has a single link, which is partial"},
		},
		{
			name:    "malformed JSON",
			file:    file2020,
			change:  func(d map[string]any) { d["communes"] = "none" },
			wantErr: []string{"units: " + file2020 + ": json: cannot unmarshal"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := dataFS(t)
			if tt.change == nil {
				delete(fsys, tt.file)
			} else {
				edit(t, fsys, tt.file, tt.change)
			}
			r, err := load(fsys)
			if err == nil {
				t.Fatalf("load = %v, want error", r)
			}
			t.Logf("error: %v", err)
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

// Overlapping versions of one code cannot be produced through the data
// files, whose sets follow each other, so the check is tested directly.
func TestCheckVersions(t *testing.T) {
	d := func(s string) vntime.Date { return date(t, s) }
	city := Unit{Key: Key{"01", d("2020-01-01")}, Name: "Hà Nội", Type: "thanh_pho", Level: LevelCity}
	commune := func(from, to string) Unit {
		u := Unit{Key: Key{"00004", d(from)}, Name: "Ba Đình", Type: "phuong", Level: LevelCommune, Parent: city.Key}
		if to != "" {
			u.ValidTo = d(to)
		}
		return u
	}
	tests := []struct {
		name    string
		units   []Unit
		wantErr string // "" = no error
	}{
		{"separate", []Unit{commune("2020-01-01", "2024-12-31"), commune("2025-01-01", "")}, ""},
		{"overlap by a day", []Unit{commune("2020-01-01", "2025-01-01"), commune("2025-01-01", "")}, "overlaps"},
		{"open version before another", []Unit{commune("2020-01-01", ""), commune("2025-07-01", "")}, "overlaps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{units: make(map[Key]Unit), file: make(map[Key]string)}
			for _, u := range append([]Unit{city}, tt.units...) {
				if err := b.add("test.json", u); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.checkParents(); err != nil {
				t.Fatal(err)
			}
			err := b.registry().checkVersions(b.file)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			case err != nil && !strings.HasPrefix(err.Error(), "units: test.json: "):
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
