package boltstore

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
)

// storedTypes are the domain types stored as records: one of each.
var storedTypes = []any{
	model.StoredReport{}, model.Case{}, model.CaseEvent{}, model.Notification{},
	model.IdempotencyRecord{}, model.User{}, model.Token{}, model.PoliceUnit{}, keys.WrappedKey{},
}

// filler sets every field of a value, each to a value of its own, so that
// a field without a mapping in records.go, or two fields mapped onto one
// record field, changes the value a round trip gives back.
type filler struct{ n int64 }

func (f *filler) next() int64 { f.n++; return f.n }

func (f *filler) fill(t *testing.T, v reflect.Value) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		// UTC with nanoseconds, as times come back from the record.
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, int(f.next()), time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s.%s is not exported: the filler cannot set it", v.Type(), v.Type().Field(i).Name)
			}
			f.fill(t, v.Field(i))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.fill(t, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		v.SetString("s" + hex.EncodeToString([]byte{byte(f.next())}))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(f.next())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.next()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) / 4)
	default:
		t.Fatalf("the filler does not know %s (kind %s): teach it, and records.go", v.Type(), v.Kind())
	}
}

// TestRecordRoundTrip fills every field of every stored type and checks
// that encode and decode give the value back. A new domain field without
// its line in records.go (and its field in records.proto) fails here.
func TestRecordRoundTrip(t *testing.T) {
	for _, zero := range storedTypes {
		typ := reflect.TypeOf(zero)
		t.Run(typ.Name(), func(t *testing.T) {
			for _, name := range []string{"zero", "every field set"} {
				in := reflect.New(typ)
				if name != "zero" {
					(&filler{}).fill(t, in.Elem())
				}
				raw, err := encode(in.Elem().Interface())
				if err != nil {
					t.Fatal(err)
				}
				if raw[0] != protoRecord {
					t.Fatalf("%s: record starts with %d, want %d", name, raw[0], protoRecord)
				}
				out := reflect.New(typ)
				if err := decode(raw, out.Interface()); err != nil {
					t.Fatal(err)
				}
				// A field tagged store:"-" (a view's mark, set on a case
				// as shown) is in no record: it comes back empty,
				// whatever it held.
				for i := range typ.NumField() {
					if typ.Field(i).Tag.Get("store") == "-" {
						in.Elem().Field(i).SetZero()
					}
				}
				if !reflect.DeepEqual(in.Elem().Interface(), out.Elem().Interface()) {
					t.Errorf("%s:\n got %+v\nwant %+v", name, out.Elem().Interface(), in.Elem().Interface())
				}
			}
		})
	}
}

// TestRecordBytesPinned pins the bytes of a stored record: they follow
// the field numbers of records.proto, never the names of the Go fields,
// and an existing database must keep meaning the same thing.
func TestRecordBytesPinned(t *testing.T) {
	u := model.User{
		ID: "lan.nguyen", DisplayName: "Lan", Role: model.RoleCommuneWorker, Unit: "units/00004@2025-07-01",
		Phone: "0912", CreateTime: time.Unix(0, 1_700_000_000_000_000_001).UTC(),
	}
	raw, err := encode(u)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("02" +
		"0a0a6c616e2e6e677579656e" + // 1: id
		"12034c616e" + // 2: display_name
		"1803" + // 3: role, COMMUNE_WORKER = 3
		"2216756e6974732f303030303440323032352d30372d3031" + // 4: unit
		"2a0430393132" + // 5: phone
		"308180a8b1e39fe7cb17") // 6: create_time in Unix nanoseconds
	if !bytes.Equal(raw, want) {
		t.Errorf("encode(user) =\n%x\nwant\n%x", raw, want)
	}
}
