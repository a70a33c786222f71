package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/outbox"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/storage/memstore"
)

var (
	testSecret = []byte("test-secret-0123456789")
	t0         = time.Date(2026, time.March, 14, 9, 26, 53, 123456789, time.FixedZone("ICT", 7*3600))
)

// openStore returns an empty store: the deliverer reads it only through
// the domain's outbox service, so the in-memory one stands for any.
func openStore(*testing.T) *memstore.Store { return memstore.New() }

// hub is process.Hub's contract: Wait's channel is closed at the next notify.
type hub struct {
	mu sync.Mutex
	ch chan struct{}
}

func newHub() *hub { return &hub{ch: make(chan struct{})} }

func (h *hub) Wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

func (h *hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.ch)
	h.ch = make(chan struct{})
}

// appendN commits n notifications in one transaction and wakes h.
func appendN(t *testing.T, s datastore.Store, h *hub, n int) []model.Notification {
	t.Helper()
	ns := make([]model.Notification, n)
	for i := range ns {
		ns[i] = model.Notification{
			Time:       t0,
			Kind:       "BREACH",
			Case:       "cases/HN-2026-00001",
			Units:      []string{"units/hn-ba-dinh"},
			DeadlineID: i + 1,
			Detail:     "D6_PLAN_DRAFT overdue",
		}
	}
	var out []model.Notification
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		var err error
		out, err = tx.AppendNotifications(ns...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		h.notify()
	}
	return out
}

func cursor(t *testing.T, s datastore.Store, name string) uint64 {
	t.Helper()
	var c uint64
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		var err error
		c, err = tx.Cursor(name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func putCursor(t *testing.T, s datastore.Store, name string, seq uint64) {
	t.Helper()
	if err := s.Update(context.Background(), func(tx datastore.Tx) error { return tx.PutCursor(name, seq) }); err != nil {
		t.Fatal(err)
	}
}

// delivery is one request a receiver got.
type delivery struct {
	hook   string
	seq    uint64
	header http.Header
	body   []byte
}

// receiver records deliveries and answers with status(n, d) for the n-th
// (from 0) request of that seq to that webhook.
type receiver struct {
	mu     sync.Mutex
	got    []delivery
	status func(n int, d delivery) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status func(n int, d delivery) int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		seq, _ := strconv.ParseUint(req.Header.Get(HeaderDelivery), 10, 64)
		d := delivery{hook: req.Header.Get(HeaderWebhook), seq: seq, header: req.Header.Clone(), body: body}
		r.mu.Lock()
		n := 0
		for _, g := range r.got {
			if g.hook == d.hook && g.seq == d.seq {
				n++
			}
		}
		r.got = append(r.got, d)
		r.mu.Unlock()
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n, d)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// seqs returns the seqs delivered to a webhook, in order of arrival.
func (r *receiver) seqs(hook string) []uint64 {
	var out []uint64
	for _, d := range r.deliveries() {
		if d.hook == hook {
			out = append(out, d.seq)
		}
	}
	return out
}

func hook(name, url string) policy.Webhook {
	return policy.Webhook{Name: name, URL: url, SecretEnv: "X", Secret: testSecret}
}

// newTestDeliverer returns a Deliverer with millisecond backoffs.
func newTestDeliverer(s datastore.Store, hooks []policy.Webhook, h *hub, log *slog.Logger) *Deliverer {
	var wake func() <-chan struct{}
	if h != nil {
		wake = h.Wait
	}
	d := New(outbox.New(s), hooks, wake, clock.NewFake(t0), log, nil)
	d.Backoff = time.Millisecond
	d.MaxBackoff = 4 * time.Millisecond
	d.Poll = 10 * time.Millisecond
	return d
}

// start runs d until the returned stop is called (or the test ends); stop
// fails the test if Run does not return promptly.
func start(t *testing.T, d *Deliverer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Error("Run did not return within 2 s of the cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestDeliversInOrder(t *testing.T) {
	s := openStore(t)
	h := newHub()
	appendN(t, s, nil, 1)
	putCursor(t, s, "webhook/a", 1) // seq 1 was delivered before
	r := newReceiver(t, nil)
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL)}, h, nil)
	d.Poll = time.Hour // only the wake-up can start the second batch
	d.Batch = 2        // and several batches are needed
	start(t, d)

	appendN(t, s, h, 3)
	appendN(t, s, h, 2)
	want := []uint64{2, 3, 4, 5, 6}
	waitFor(t, "five deliveries", func() bool { return len(r.seqs("a")) >= len(want) })
	waitFor(t, "the cursor at 6", func() bool { return cursor(t, s, "webhook/a") == 6 })
	if got := r.seqs("a"); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	for _, g := range r.deliveries() {
		var p payload
		if err := json.Unmarshal(g.body, &p); err != nil {
			t.Fatalf("body %q: %v", g.body, err)
		}
		if p.Seq != g.seq || p.Case != "cases/HN-2026-00001" || p.Kind != "BREACH" {
			t.Errorf("seq %d: body %+v", g.seq, p)
		}
	}
}

func TestRequestFormatAndSignature(t *testing.T) {
	s := openStore(t)
	h := newHub()
	r := newReceiver(t, nil)
	d := newTestDeliverer(s, []policy.Webhook{hook("ops-1", r.srv.URL)}, h, nil)
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	d.clk = fake
	start(t, d)
	waitFor(t, "registration", func() bool { return cursor(t, s, "webhook/ops-1/registered") == 1 })
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		_, err := tx.AppendNotifications(model.Notification{Time: t0, Kind: "WARNING", Case: "cases/HN-2026-00007", DeadlineID: 4, Detail: "half the time has passed"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h.notify()
	waitFor(t, "one delivery", func() bool { return len(r.deliveries()) == 1 })
	g := r.deliveries()[0]

	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		HeaderWebhook:   "ops-1",
		HeaderDelivery:  "1",
		HeaderTimestamp: "1800000000",
	} {
		if got := g.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal(g.body, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"seq": 1.0, "time": "2026-03-14T02:26:53Z", "kind": "WARNING", "case": "cases/HN-2026-00007",
		"units": []any{}, "deadline_id": 4.0, "detail": "half the time has passed",
	}
	if len(fields) != len(want) {
		t.Errorf("body has fields %v, want exactly %v", fields, want)
	}
	for k, v := range want {
		got, _ := json.Marshal(fields[k])
		exp, _ := json.Marshal(v)
		if !bytes.Equal(got, exp) {
			t.Errorf("body %s = %s, want %s", k, got, exp)
		}
	}

	sig := g.header.Get(HeaderSignature)
	ts, _ := strconv.ParseInt(g.header.Get(HeaderTimestamp), 10, 64)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("signature %q is not sha256=<64 hex>", sig)
	}
	if !Verify(testSecret, ts, g.body, sig) {
		t.Error("the signature does not verify")
	}
	changed := bytes.Replace(g.body, []byte("HN-2026-00007"), []byte("HN-2026-00008"), 1)
	for name, ok := range map[string]bool{
		"changed body":      Verify(testSecret, ts, changed, sig),
		"changed timestamp": Verify(testSecret, ts+1, g.body, sig),
		"other secret":      Verify([]byte("another-secret-0123456789"), ts, g.body, sig),
		"bare hex":          Verify(testSecret, ts, g.body, strings.TrimPrefix(sig, "sha256=")),
		"empty":             Verify(testSecret, ts, g.body, ""),
	} {
		if ok {
			t.Errorf("%s: Verify accepted it", name)
		}
	}
}

func TestSignKnownVector(t *testing.T) {
	// printf '%s' '1700000000.{"seq":1}' | openssl dgst -sha256 -hmac 'test-secret-0123456789'
	const want = "sha256=b47f2b03b8c6ad7cccb0ca4642157eb0243d6e8e2e4451b36b285b737b6b95a0"
	if got := Sign(testSecret, 1700000000, []byte(`{"seq":1}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if !Verify(testSecret, 1700000000, []byte(`{"seq":1}`), want) {
		t.Error("Verify refused the known vector")
	}
}

func TestRetriesTheSameNotification(t *testing.T) {
	s := openStore(t)
	h := newHub()
	appendN(t, s, nil, 1)
	putCursor(t, s, "webhook/a", 1)
	r := newReceiver(t, func(n int, d delivery) int {
		if d.seq == 2 && n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	var logs syncBuffer
	// JSON, as the server logs: a duration there must be text an operator
	// reads ("1.5s"), not slog's count of nanoseconds.
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL)}, h, slog.New(slog.NewJSONHandler(&logs, nil)))
	start(t, d)
	appendN(t, s, h, 3)

	want := []uint64{2, 2, 2, 3, 4}
	waitFor(t, "five requests", func() bool { return len(r.seqs("a")) >= len(want) })
	waitFor(t, "the cursor at 4", func() bool { return cursor(t, s, "webhook/a") == 4 })
	if got := r.seqs("a"); !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	// Every attempt is signed afresh and verifies.
	for _, g := range r.deliveries() {
		ts, _ := strconv.ParseInt(g.header.Get(HeaderTimestamp), 10, 64)
		if !Verify(testSecret, ts, g.body, g.header.Get(HeaderSignature)) {
			t.Errorf("seq %d: the signature does not verify", g.seq)
		}
	}

	out := logs.String()
	for _, want := range []string{`"webhook":"a"`, `"seq":2`, `"status":500`, "delivery failed", `"retry_in":"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{string(testSecret), "D6_PLAN_DRAFT overdue", "HN-2026-00001", "sha256="} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
}

func TestCursorPersistsAcrossRestarts(t *testing.T) {
	s := openStore(t)
	h := newHub()
	appendN(t, s, nil, 1)
	putCursor(t, s, "webhook/a", 1)
	appendN(t, s, nil, 4) // 2..5

	// The first receiver acknowledges 2 and 3, then refuses 4.
	r1 := newReceiver(t, func(_ int, d delivery) int {
		if d.seq >= 4 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	stop := start(t, newTestDeliverer(s, []policy.Webhook{hook("a", r1.srv.URL)}, h, nil))
	waitFor(t, "seq 4 refused twice", func() bool { return len(r1.seqs("a")) >= 4 })
	stop()
	if got := r1.seqs("a"); !slices.Equal(got[:2], []uint64{2, 3}) || slices.ContainsFunc(got[2:], func(q uint64) bool { return q != 4 }) {
		t.Fatalf("first receiver got %v, want 2 3 4 4...", got)
	}
	if c := cursor(t, s, "webhook/a"); c != 3 {
		t.Fatalf("cursor after the first run = %d, want 3", c)
	}

	// A new Deliverer on the same store resumes at 4.
	r2 := newReceiver(t, nil)
	start(t, newTestDeliverer(s, []policy.Webhook{hook("a", r2.srv.URL)}, h, nil))
	waitFor(t, "the cursor at 5", func() bool { return cursor(t, s, "webhook/a") == 5 })
	if got := r2.seqs("a"); !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("second receiver got %v, want [4 5]", got)
	}
}

func TestNewWebhookStartsAtTheHead(t *testing.T) {
	s := openStore(t)
	h := newHub()
	appendN(t, s, nil, 5)
	putCursor(t, s, "webhook/old", 3)
	r := newReceiver(t, nil)
	start(t, newTestDeliverer(s, []policy.Webhook{hook("old", r.srv.URL), hook("fresh", r.srv.URL)}, h, nil))
	waitFor(t, "fresh registered at the head", func() bool { return cursor(t, s, "webhook/fresh") == 5 })
	appendN(t, s, h, 2)
	waitFor(t, "both cursors at 7", func() bool {
		return cursor(t, s, "webhook/old") == 7 && cursor(t, s, "webhook/fresh") == 7
	})
	if got := r.seqs("fresh"); !slices.Equal(got, []uint64{6, 7}) {
		t.Errorf("fresh got %v, want [6 7]", got)
	}
	if got := r.seqs("old"); !slices.Equal(got, []uint64{4, 5, 6, 7}) {
		t.Errorf("old got %v, want [4 5 6 7]", got)
	}
}

// A webhook registered while the outbox was empty keeps cursor 0; after a
// restart it must not be taken for a new one and skip what it has not
// delivered.
func TestRegisteredOnEmptyOutboxIsNotNewAfterRestart(t *testing.T) {
	s := openStore(t)
	h := newHub()
	r1 := newReceiver(t, func(int, delivery) int { return http.StatusBadGateway })
	stop := start(t, newTestDeliverer(s, []policy.Webhook{hook("a", r1.srv.URL)}, h, nil))
	waitFor(t, "registration", func() bool { return cursor(t, s, "webhook/a/registered") == 1 })
	appendN(t, s, h, 2)
	waitFor(t, "a refused delivery", func() bool { return len(r1.seqs("a")) > 0 })
	stop()

	r2 := newReceiver(t, nil)
	start(t, newTestDeliverer(s, []policy.Webhook{hook("a", r2.srv.URL)}, h, nil))
	waitFor(t, "the cursor at 2", func() bool { return cursor(t, s, "webhook/a") == 2 })
	if got := r2.seqs("a"); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("after the restart got %v, want [1 2]", got)
	}
}

func TestCancelStopsRunWhileBackingOff(t *testing.T) {
	s := openStore(t)
	h := newHub()
	r := newReceiver(t, func(int, delivery) int { return http.StatusInternalServerError })
	idle := newReceiver(t, nil)
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL), hook("idle", idle.srv.URL)}, h, nil)
	d.Backoff, d.MaxBackoff = time.Hour, time.Hour
	d.Poll = time.Hour
	stop := start(t, d)
	waitFor(t, "registration", func() bool {
		return cursor(t, s, "webhook/a/registered") == 1 && cursor(t, s, "webhook/idle/registered") == 1
	})
	appendN(t, s, h, 1)
	waitFor(t, "a refused delivery", func() bool { return len(r.seqs("a")) == 1 })
	waitFor(t, "the idle webhook's delivery", func() bool { return cursor(t, s, "webhook/idle") == 1 })
	began := time.Now()
	stop() // fails the test if Run takes over 2 s
	if el := time.Since(began); el > 500*time.Millisecond {
		t.Errorf("Run took %v to stop", el)
	}
	if c := cursor(t, s, "webhook/a"); c != 0 {
		t.Errorf("cursor of the refusing webhook = %d, want 0", c)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	s := openStore(t)
	h := newHub()
	target := newReceiver(t, nil)
	var mu sync.Mutex
	attempts := 0
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		http.Redirect(w, req, target.srv.URL, http.StatusPermanentRedirect)
	}))
	t.Cleanup(redirect.Close)
	start(t, newTestDeliverer(s, []policy.Webhook{hook("a", redirect.URL)}, h, nil))
	waitFor(t, "registration", func() bool { return cursor(t, s, "webhook/a/registered") == 1 })
	appendN(t, s, h, 1)
	waitFor(t, "three attempts", func() bool { mu.Lock(); defer mu.Unlock(); return attempts >= 3 })
	if got := target.deliveries(); len(got) != 0 {
		t.Errorf("the redirect was followed: target got %d requests", len(got))
	}
	if c := cursor(t, s, "webhook/a"); c != 0 {
		t.Errorf("cursor = %d, want 0: a redirect is not an acknowledgement", c)
	}
}

func TestRequestTimeoutIsRetried(t *testing.T) {
	s := openStore(t)
	h := newHub()
	r := newReceiver(t, nil)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	r.status = func(n int, d delivery) int {
		if n == 0 {
			<-hang // never answers in time
		}
		return http.StatusOK
	}
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL)}, h, nil)
	d.Timeout = 50 * time.Millisecond
	start(t, d)
	waitFor(t, "registration", func() bool { return cursor(t, s, "webhook/a/registered") == 1 })
	appendN(t, s, h, 1)
	waitFor(t, "the cursor at 1", func() bool { return cursor(t, s, "webhook/a") == 1 })
	if got := r.seqs("a"); !slices.Equal(got, []uint64{1, 1}) {
		t.Errorf("requests %v, want [1 1]", got)
	}
}

func TestBackoff(t *testing.T) {
	d := New(nil, nil, nil, nil, nil, nil)
	for _, tt := range []struct {
		attempt int
		nominal time.Duration
	}{
		{0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second},
		{8, 256 * time.Second}, {9, 5 * time.Minute}, {10, 5 * time.Minute}, {200, 5 * time.Minute},
	} {
		seen := map[time.Duration]bool{}
		for range 50 {
			w := d.backoff(tt.attempt)
			if w < tt.nominal/2 || w > tt.nominal {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, w, tt.nominal/2, tt.nominal)
			}
			seen[w] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) has no jitter: always %v", tt.attempt, seen)
		}
	}
}

func TestNoWebhooksReturnsAtOnce(t *testing.T) {
	done := make(chan struct{})
	go func() {
		New(outbox.New(openStore(t)), nil, nil, nil, nil, nil).Run(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run without webhooks did not return")
	}
}

// syncBuffer is a bytes.Buffer safe for the log handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The sender checks the receiver's certificate as any HTTPS client does
// (the service passes no client of its own): a receiver whose certificate
// no trusted authority signed, such as someone in the middle, never sees
// a notification, and the notification stays unacknowledged.
func TestUntrustedCertificateIsRefused(t *testing.T) {
	s := openStore(t)
	h := newHub()
	var mu sync.Mutex
	served := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		served++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	d := newTestDeliverer(s, []policy.Webhook{hook("a", srv.URL)}, h, nil)
	failures := make(chan struct{}, 100)
	d.Failed = func(string) {
		select {
		case failures <- struct{}{}:
		default:
		}
	}
	start(t, d)
	waitFor(t, "registration", func() bool { return cursor(t, s, "webhook/a/registered") == 1 })
	appendN(t, s, h, 1)
	waitFor(t, "three failed attempts", func() bool { return len(failures) >= 3 })
	mu.Lock()
	defer mu.Unlock()
	if served != 0 {
		t.Errorf("the receiver with an untrusted certificate was sent %d requests", served)
	}
	if c := cursor(t, s, "webhook/a"); c != 0 {
		t.Errorf("cursor = %d, want 0", c)
	}
}

// A hostile receiver that answers 200 with a body that never ends does
// not hold the sender: it reads a little of the body and lets it go, and
// the next notification goes out without waiting for the request's
// timeout.
func TestEndlessAnswerDoesNotHoldTheSender(t *testing.T) {
	s := openStore(t)
	h := newHub()
	var mu sync.Mutex
	var seqs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		seqs = append(seqs, req.Header.Get(HeaderDelivery))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for req.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	d := newTestDeliverer(s, []policy.Webhook{hook("a", srv.URL)}, h, nil)
	d.Timeout = time.Minute // longer than waitFor: the body must be let go, not timed out
	start(t, d)
	waitFor(t, "registration", func() bool { return cursor(t, s, "webhook/a/registered") == 1 })
	appendN(t, s, h, 2)
	waitFor(t, "both acknowledged", func() bool { return cursor(t, s, "webhook/a") == 2 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seqs, []string{"1", "2"}) {
		t.Errorf("deliveries %v, want [1 2]", seqs)
	}
}

// deliveryEvents returns the notification.deliver events in s's audit log.
func deliveryEvents(t *testing.T, s datastore.Store) []audit.Event {
	t.Helper()
	var out []audit.Event
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			if e.Action == "notification.deliver" {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeliveryIsAuditedBeforeItLeaves holds a webhook's delivery to the
// rule of every read: a notification (a case's number and what happened
// to it) is on the case's audit trail before its body leaves the service,
// not once the receiver says it has it. A receiver that answers 500 has
// still been sent the body, and a delivery retried until it succeeds is
// one event, not one an attempt.
func TestDeliveryIsAuditedBeforeItLeaves(t *testing.T) {
	s := openStore(t)
	h := newHub()
	appendN(t, s, nil, 1)
	putCursor(t, s, "webhook/a", 1)
	var mu sync.Mutex
	var seenAtArrival [][]audit.Event // the delivery events stored when each request arrived
	r := newReceiver(t, func(n int, d delivery) int {
		events := deliveryEvents(t, s)
		mu.Lock()
		seenAtArrival = append(seenAtArrival, events)
		mu.Unlock()
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL)}, h, slog.New(slog.DiscardHandler))
	start(t, d)
	appendN(t, s, h, 1)
	waitFor(t, "the cursor at 2", func() bool { return cursor(t, s, "webhook/a") == 2 })

	mu.Lock()
	defer mu.Unlock()
	if len(seenAtArrival) != 3 {
		t.Fatalf("%d requests, want 3 (two refused, one taken)", len(seenAtArrival))
	}
	for i, events := range seenAtArrival {
		if len(events) != 1 {
			t.Errorf("request %d arrived with %d notification.deliver events stored, want 1: %+v", i+1, len(events), events)
			continue
		}
		if e := events[0]; e.Resource != "notifications/2" || e.Case != "cases/HN-2026-00001" || e.Reason != "to webhook a" || e.Actor != "system" {
			t.Errorf("request %d: the delivery's event %+v", i+1, e)
		}
	}
	if got := deliveryEvents(t, s); len(got) != 1 {
		t.Errorf("%d notification.deliver events once delivered, want 1: %+v", len(got), got)
	}
}

// fullStore is a store whose ordinary writes are refused for lack of
// space, while the small writes of reads' audit events (Batch) still go
// through the room kept back for them.
type fullStore struct{ *memstore.Store }

func (fullStore) Update(context.Context, func(datastore.Tx) error) error { return model.ErrFull }

// TestDeliveryGoesOnWhenTheDatabaseIsFull: a delivery's event is a read's
// (Batch), so a full database, which refuses the cursor, still lets the
// notification be audited and sent, as it lets reads be answered.
func TestDeliveryGoesOnWhenTheDatabaseIsFull(t *testing.T) {
	mem := openStore(t)
	h := newHub()
	appendN(t, mem, nil, 1)
	putCursor(t, mem, "webhook/a", 1)
	putCursor(t, mem, "webhook/a/registered", 1) // registered before the disk filled
	appendN(t, mem, nil, 1)
	r := newReceiver(t, nil)
	d := newTestDeliverer(fullStore{mem}, []policy.Webhook{hook("a", r.srv.URL)}, h, slog.New(slog.DiscardHandler))
	start(t, d)
	waitFor(t, "the notification at the receiver", func() bool { return len(r.seqs("a")) > 0 })
	if got := deliveryEvents(t, mem); len(got) != 1 || got[0].Resource != "notifications/2" {
		t.Errorf("the delivery events: %+v; want one, of notifications/2", got)
	}
}

// unauditedStore refuses the first writes of reads' audit events (Batch),
// as a store that cannot write at all for a moment does.
type unauditedStore struct {
	*memstore.Store
	mu      sync.Mutex
	refuses int
}

func (s *unauditedStore) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	s.mu.Lock()
	refuse := s.refuses > 0
	s.refuses--
	s.mu.Unlock()
	if refuse {
		return errors.New("disk I/O error")
	}
	return s.Store.Batch(ctx, fn)
}

// A delivery whose event cannot be written waits, logging when it tries
// again as every other retry of the deliverer does: a duration an
// operator reads ("1ms"), not slog's count of nanoseconds.
func TestUnauditedDeliveryLogsItsRetryAsADuration(t *testing.T) {
	mem := openStore(t)
	h := newHub()
	appendN(t, mem, nil, 1)
	putCursor(t, mem, "webhook/a", 1)
	s := &unauditedStore{Store: mem, refuses: 2}
	r := newReceiver(t, nil)
	var logs syncBuffer
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL)}, h, slog.New(slog.NewJSONHandler(&logs, nil)))
	start(t, d)
	appendN(t, mem, h, 1)
	waitFor(t, "the notification at the receiver", func() bool { return len(r.seqs("a")) > 0 })
	out := logs.String()
	if !strings.Contains(out, "cannot audit the delivery") {
		t.Fatalf("log lacks the refused audit:\n%s", out)
	}
	if regexp.MustCompile(`"retry_in":[0-9]`).MatchString(out) {
		t.Errorf("a retry_in logged as nanoseconds:\n%s", out)
	}
}
