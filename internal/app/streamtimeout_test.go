package app_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// Streaming REST answers are not cut by the write timeout of ordinary
// answers: with that timeout at 200 ms, a watch stream still delivers a
// notification that comes a second later, and a backup read slowly (over
// a small receive window, so that the server's writes wait for the
// reader) arrives whole. Each of their writes has its own bound instead.
func TestRESTStreamsOutliveTheWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	ts := launch(t, testConfig(t, ""), app.Options{
		Clock: clock.NewFake(testNow), HTTPWriteTimeout: writeTimeout, StreamWriteTimeout: 5 * time.Second,
	})
	ts.addUser(t, "bd.watcher", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	openCase(t, ts, testNow.Add(-time.Hour), "00004")

	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), streamEndWait)
		defer cancel()
		resp := restStream(t, ctx, http.DefaultClient, ts, "/v1/notifications:watch?after_seq=1", ts.tokens.get("bd.watcher"))
		lines := bufio.NewScanner(resp.Body)
		if !lines.Scan() || !strings.Contains(lines.Text(), `"result"`) {
			t.Fatalf("first notification: %q %v", lines.Text(), lines.Err())
		}
		time.Sleep(5 * writeTimeout) // well past the ordinary write timeout
		name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
		if !lines.Scan() || !strings.Contains(lines.Text(), name) {
			t.Fatalf("a notification after the write timeout: %q %v", lines.Text(), lines.Err())
		}
	})

	t.Run("slow backup", func(t *testing.T) {
		fillDatabase(t, ts)
		want := countReports(t, ts)
		ctx, cancel := context.WithTimeout(context.Background(), streamEndWait)
		defer cancel()
		resp := restStream(t, ctx, slowClient(), ts, "/v1/database:backup", ts.tokens.get("admin"))
		start := time.Now()
		var body []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes in %v: %v", len(body), time.Since(start), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if took := time.Since(start); took < 2*writeTimeout {
			// Not a failure of the service: the reader was not slow
			// enough to prove anything.
			t.Fatalf("the download took %v, not longer than the write timeout; read more slowly", took)
		}
		res := restoreTo(t, body, filepath.Join(t.TempDir(), "download.db"))
		if res.Reports != want {
			t.Errorf("the slow download holds %d reports, want %d", res.Reports, want)
		}
	})
}

// A client that stops reading a stream does not hold it for ever: once a
// write has waited StreamWriteTimeout, the server ends the answer.
func TestRESTStreamStalledReaderIsCut(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{
		Clock: clock.NewFake(testNow), StreamWriteTimeout: 300 * time.Millisecond,
	})
	fillDatabase(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), streamEndWait)
	defer cancel()
	resp := restStream(t, ctx, slowClient(), ts, "/v1/database:backup", ts.tokens.get("admin"))
	time.Sleep(2 * time.Second) // the reader stalls, far past the write timeout
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		res := restoreTo(t, body, filepath.Join(t.TempDir(), "download.db"))
		t.Fatalf("a stalled download went on to the end (%d bytes, %d reports)", len(body), res.Reports)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the server did not end the stalled download: %v", err)
	}
}

// fillDatabase records reports with long narratives until the database
// is some megabytes: more than the socket buffers between the server and
// a client on this machine hold (on loopback the server's send buffer
// alone can take about a megabyte), so that streaming it to a slow reader
// makes the server wait for the reader.
func fillDatabase(t *testing.T, ts *testServer) {
	t.Helper()
	r := validReport()
	r.Narrative = strings.Repeat("Hàng xóm nghe tiếng trẻ khóc. ", 20000/len([]rune("Hàng xóm nghe tiếng trẻ khóc. ")))
	for range 100 {
		if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r}); err != nil {
			t.Fatal(err)
		}
	}
}

// restStream sends a GET and returns its answer, whose body the caller
// reads as it streams.
func restStream(t *testing.T, ctx context.Context, c *http.Client, ts *testServer, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ts.HTTPAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return resp
}

// slowClient is an HTTP client with a small TCP receive buffer, so that a
// server writing to it must wait for it to read.
func slowClient() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = setRecvBuffer(fd, 4<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}}
}
