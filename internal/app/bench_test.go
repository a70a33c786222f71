package app_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The service's cost is measured against the storage floor in the same run:
// a raw bbolt Update (with fsync, as the service commits) and View of a
// record the size of a report. The floor is the first sub-benchmark, so
// `benchstat -col /path` shows the service as a ratio of it (see the README).

// BenchmarkWrite compares CreateReport through gRPC with a raw bbolt Update.
func BenchmarkWrite(b *testing.B) {
	b.Run("path=floor", benchFloorBoltUpdate)
	b.Run("path=grpc-health", benchHealthGRPC)
	b.Run("path=grpc", benchCreateReportGRPC)
}

// BenchmarkRead compares GetCase through gRPC with a raw bbolt View followed
// by an fsync'd Update of a small record: a read is answered only after its
// audit event is on disk, so that is the least a read can cost.
func BenchmarkRead(b *testing.B) {
	b.Run("path=floor", benchFloorBoltViewAudited)
	b.Run("path=grpc-health", benchHealthGRPC)
	b.Run("path=grpc", benchGetCaseGRPC)
}

// benchHealthGRPC is the transport's own floor: a gRPC round trip on
// loopback through the same server that does no storage work.
func benchHealthGRPC(b *testing.B) {
	ctx := context.Background()
	ts := startServer(b, "")
	client := healthpb.NewHealthClient(ts.conn)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCreateReportGRPC(b *testing.B) {
	ctx := context.Background()
	ts := startServer(b, "")
	req := &pb.CreateReportRequest{Report: validReport()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.reports().CreateReport(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGetCaseGRPC(b *testing.B) {
	ctx := context.Background()
	ts := startServer(b, "")
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		b.Fatal(err)
	}
	req := &pb.GetCaseRequest{Name: created.GetCase()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.cases().GetCase(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// floorRecord is a value the size of a stored report.
func floorRecord(b *testing.B) []byte {
	raw, err := proto.Marshal(validReport())
	if err != nil {
		b.Fatal(err)
	}
	// The store keeps JSON, which is larger than the wire form: pad to twice.
	return append(raw, raw...)
}

func openFloorDB(b *testing.B) *bbolt.DB {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("r"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

func benchFloorBoltUpdate(b *testing.B) {
	db := openFloorDB(b)
	val := floorRecord(b)
	var n uint64
	b.ReportAllocs()
	for b.Loop() {
		n++
		if err := db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("r")).Put(binary.BigEndian.AppendUint64(nil, n), val)
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFloorBoltViewAudited(b *testing.B) {
	db := openFloorDB(b)
	val := floorRecord(b)
	key := binary.BigEndian.AppendUint64(nil, 1)
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("r")).Put(key, val) }); err != nil {
		b.Fatal(err)
	}
	event := make([]byte, 300) // about the size of a stored audit event
	var n uint64 = 1
	b.ReportAllocs()
	for b.Loop() {
		if err := db.View(func(tx *bbolt.Tx) error {
			if v := tx.Bucket([]byte("r")).Get(key); len(v) != len(val) {
				b.Fatalf("read %d bytes", len(v))
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		n++
		if err := db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("r")).Put(binary.BigEndian.AppendUint64(nil, n), event)
		}); err != nil {
			b.Fatal(err)
		}
	}
}
