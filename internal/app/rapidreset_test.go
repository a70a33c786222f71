package app_test

import (
	"context"
	"encoding/binary"
	"io"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestRapidResetIsBounded: clients with no token open calls on the gRPC
// port as fast as they can, each with a frame of a message declared near
// the 4 MiB limit, and reset each at once (HTTP/2 "rapid reset",
// CVE-2023-44487), a method that needs no token and one that does. What
// the server holds meanwhile stays within what --max-concurrent-streams
// lets a connection hold (100 calls, each at most its flow-control
// window), not what was sent (thousands of calls, 16 KiB each); once the
// clients go, their goroutines are given back, and the health check
// answers.
func TestRapidResetIsBounded(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow)})
	baseG, baseHeap := goroutines(), heapObjectBytes()
	peak := watchPeaks()
	const conns, calls = 4, 2000
	var readers sync.WaitGroup
	var open []*h2Conn
	for i := range conns {
		path := "/grpc.health.v1.Health/Watch"
		if i%2 == 1 {
			path = "/childcase.v1.CaseService/GetCase"
		}
		h := dialH2(t, ts.GRPCAddr())
		open = append(open, h)
		readers.Go(func() { _, _ = io.Copy(io.Discard, h.r) })
		frame := make([]byte, 16<<10)
		binary.BigEndian.PutUint32(frame[1:], 4<<20-100)
		var cancel [4]byte
		binary.BigEndian.PutUint32(cancel[:], 0x8) // CANCEL
		for c := range uint32(calls) {
			id := 2*c + 1
			if err := h.headers(id, path, false); err != nil {
				break // the server closed the connection: bounded too
			}
			h.frame(h2FrameData, 0, id, frame)
			h.frame(h2FrameRSTStream, 0, id, cancel[:])
		}
		_ = h.w.Flush()
	}
	for _, h := range open {
		h.Close()
	}
	readers.Wait()
	g, heap := peak()
	const perConn = 100 // DefaultMaxConcurrentStreams
	if limit := baseG + conns*perConn + 100; g > limit {
		t.Errorf("%d goroutines at the peak, %d before: more than %d connections' %d calls each", g, baseG, conns, perConn)
	}
	if limit := baseHeap + conns*perConn*(64<<10) + 64<<20; heap > limit {
		t.Errorf("%d MiB of heap at the peak, %d MiB before: more than %d connections' %d windows", heap>>20, baseHeap>>20, conns, perConn)
	}
	for deadline := time.Now().Add(10 * time.Second); goroutines() > baseG+10; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the clients went, %d before", goroutines(), baseG)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(ts.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("the health check after the resets: %v", err)
	}
}

// heapObjectBytes is the heap the process's live and not yet swept
// objects take.
func heapObjectBytes() int {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// watchPeaks samples the goroutines and the heap until the function it
// returns is called, which returns the highest of each it saw.
func watchPeaks() func() (goroutines, heap int) {
	var g, h int
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			g, h = max(g, goroutines()), max(h, heapObjectBytes())
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		return g, h
	}
}
