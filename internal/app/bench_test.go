package app_test

import (
	"context"
	"encoding/binary"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The service's cost is measured against the storage floor in the same run:
// a raw bbolt Update (with fsync, as the service commits) and View of a
// record the size of a report. The floor is the first sub-benchmark, so
// `benchstat -col /path` shows the service as a ratio of it (see the README).

// BenchmarkWrite compares CreateReport through gRPC with a raw bbolt Update,
// one call at a time: each also reports its median latency (p50-ns).
func BenchmarkWrite(b *testing.B) {
	b.Run("path=floor", benchFloorBoltUpdate)
	b.Run("path=grpc-health", benchHealthGRPC)
	b.Run("path=grpc", benchCreateReportGRPC)
}

// concurrentClients is how many callers the concurrent write benchmark runs.
const concurrentClients = 64

// BenchmarkWriteConcurrent compares CreateReport from 64 concurrent clients
// (one gRPC connection, one operator) with raw bbolt Batch puts of a record
// the size of a report from as many goroutines: bbolt's own group commit,
// with its default delay and size. ns/op is the time per write, the
// inverse of throughput (also reported as writes/s).
func BenchmarkWriteConcurrent(b *testing.B) {
	b.Run("path=floor", benchFloorBoltBatch)
	b.Run("path=grpc", benchCreateReportGRPCConcurrent)
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
	timeEach(b, func() error {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
}

func benchCreateReportGRPC(b *testing.B) {
	ctx := context.Background()
	ts := startServer(b, "")
	req := &pb.CreateReportRequest{Report: validReport()}
	b.ReportAllocs()
	before := ts.StoreCounts()
	timeEach(b, func() error {
		_, err := ts.reports().CreateReport(ctx, req)
		return err
	})
	reportWrites(b, before, ts.StoreCounts())
}

// reportWrites reports what the store did per operation between two of
// its counts (testServer.StoreCounts: commits and page writes on a file;
// commit Txns, their operations and bytes, and read round trips on etcd):
// unlike times, they do not vary with the load on the machine.
func reportWrites(b *testing.B, before, after map[string]int64) {
	for _, unit := range slices.Sorted(maps.Keys(after)) {
		b.ReportMetric(float64(after[unit]-before[unit])/float64(b.N), unit+"/op")
	}
}

func benchCreateReportGRPCConcurrent(b *testing.B) {
	ctx := context.Background()
	ts := startServer(b, "")
	client := ts.reports()
	req := &pb.CreateReportRequest{Report: validReport()}
	b.ReportAllocs()
	inParallel(b, func() error {
		_, err := client.CreateReport(ctx, req)
		return err
	})
}

// timeEach runs op b.N times, one after the other, and reports the median
// time of one call beside the mean (ns/op): the goals are set on the
// median.
func timeEach(b *testing.B, op func() error) {
	took := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
}

// inParallel runs op b.N times in all from concurrentClients goroutines and
// reports the throughput.
func inParallel(b *testing.B, op func() error) {
	b.SetParallelism((concurrentClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
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
	before := ts.StoreCounts()
	for b.Loop() {
		if _, err := ts.cases().GetCase(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	reportWrites(b, before, ts.StoreCounts())
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
	timeEach(b, func() error {
		n++
		return db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("r")).Put(binary.BigEndian.AppendUint64(nil, n), val)
		})
	})
}

// benchFloorBoltBatch puts records through bbolt's Batch, with its default
// delay and size, from concurrentClients goroutines.
func benchFloorBoltBatch(b *testing.B) {
	db := openFloorDB(b)
	val := floorRecord(b)
	var n atomic.Uint64
	b.ReportAllocs()
	inParallel(b, func() error {
		key := binary.BigEndian.AppendUint64(nil, n.Add(1))
		return db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("r")).Put(key, val) })
	})
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
