package crashtest

// SIGKILLs of the server while a webhook delivery is in flight: the
// receiver has the request (the notification is sent) and holds its answer,
// so the kill lands after the send and before the cursor is marked. The
// README promises at-least-once delivery, in order, with the seq as a
// stable X-Childcase-Delivery for the receiver to drop the repeat; and the
// deadlines that fall due while the server is down fire once after the
// restart, so their notifications are not doubled either.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/outbox"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/transport/webhook"
)

// hookName and hookSecret are the webhook of the test's policy.
const (
	hookName   = "crash-hook"
	hookSecret = "crash-test-webhook-secret-0123456789"
)

// hookPolicy is policyJSON's clocks, the emergency's too (every report
// of the workload opens an emergency), with a webhook at url.
func hookPolicy(url string) string {
	return `{
  "acknowledge": {"seconds": 2},
  "acknowledge_emergency": {"seconds": 2},
  "transfer_accept": {"seconds": 3},
  "police_acknowledge": {"seconds": 3},
  "escalation_step": {"seconds": 3},
  "warnings": [0.5, 0.75],
  "webhooks": [{"name": "` + hookName + `", "url": "` + url + `", "secret_env": "CRASHTEST_HOOK_SECRET"}]
}`
}

// delivery is one request the receiver got.
type delivery struct {
	seq  uint64
	body []byte
}

// receiver is the webhook's end: it records every request, checks its
// signature and headers, and, when armed, holds the answer to the next
// request until released, so that the server can be killed after it sent
// a notification and before it marked it delivered.
type receiver struct {
	mu      sync.Mutex
	got     []delivery
	bad     []string
	armed   chan delivery // the next request is sent here and held
	release chan struct{} // closed to answer the held request
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	seq, perr := strconv.ParseUint(r.Header.Get(webhook.HeaderDelivery), 10, 64)
	ts, terr := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
	rc.mu.Lock()
	switch {
	case err != nil || perr != nil || terr != nil:
		rc.bad = append(rc.bad, fmt.Sprintf("a request with body error %v, delivery %q, timestamp %q", err, r.Header.Get(webhook.HeaderDelivery), r.Header.Get(webhook.HeaderTimestamp)))
	case !webhook.Verify([]byte(hookSecret), ts, body, r.Header.Get(webhook.HeaderSignature)):
		rc.bad = append(rc.bad, fmt.Sprintf("delivery %d: the signature does not verify", seq))
	}
	d := delivery{seq: seq, body: body}
	rc.got = append(rc.got, d)
	armed, release := rc.armed, rc.release
	rc.armed = nil
	rc.mu.Unlock()
	if armed != nil {
		armed <- d
		<-release // the server is killed meanwhile: this answer reaches no one
	}
	w.WriteHeader(http.StatusNoContent)
}

// arm makes the receiver hold the next request; held receives it, and
// release lets its answer go.
func (rc *receiver) arm() (held <-chan delivery, release func()) {
	ch, rel := make(chan delivery, 1), make(chan struct{})
	rc.mu.Lock()
	rc.armed, rc.release = ch, rel
	rc.mu.Unlock()
	return ch, sync.OnceFunc(func() { close(rel) })
}

// disarm takes back an arming no request came to.
func (rc *receiver) disarm() {
	rc.mu.Lock()
	rc.armed = nil
	rc.mu.Unlock()
}

// since returns the deliveries from index i on.
func (rc *receiver) since(i int) []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got[i:]...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// intakeLoad records reports that open cases, from n clients, until ctx
// ends; each case's 2 s acknowledgement clock warns, breaches and
// escalates, each a notification.
func (h *harness) intakeLoad(ctx context.Context, n int) (stop func()) {
	var wg sync.WaitGroup
	for w := range n {
		cl := h.dial()
		// A source of its own: h.rng is the test goroutine's, and a
		// *rand.Rand is not safe for concurrent use.
		rng := rand.New(rand.NewPCG(h.rng.Uint64(), uint64(w)))
		wg.Go(func() {
			defer cl.close()
			for i := 0; ctx.Err() == nil; i++ {
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				_, _ = cl.reports.CreateReport(h.as(cctx, userOp), &pb.CreateReportRequest{
					Report: newReport("00004", pb.CallType_CALL_TYPE_INTERVENTION, ""), RequestId: fmt.Sprintf("hook-w%d-%d-%d", w, h.starts, i),
				})
				cancel()
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(50+rng.IntN(100)) * time.Millisecond):
				}
			}
		})
	}
	return wg.Wait
}

// TestKillDuringWebhookDelivery SIGKILLs the server while its webhook's
// receiver holds a delivery (sent, not yet marked delivered), under intake
// whose deadlines fall due, also while the server is down. After each
// restart the held notification must come again first, under the same
// X-Childcase-Delivery and with the same body. At the end, with the server
// stopped: every notification up to the webhook's cursor was delivered,
// each seq always with one body, the one the outbox holds; first
// deliveries came in order of seq; and the outbox holds each firing of a
// deadline (warning, breach, escalation) once, as the timelines do.
func TestKillDuringWebhookDelivery(t *testing.T) {
	requireChild(t)
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	h := newHarness(t, uint64(time.Now().UnixNano()), 0)
	if err := os.WriteFile(h.policyFile, []byte(hookPolicy(hook.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = []string{"CRASHTEST_HOOK_SECRET=" + hookSecret}
	h.metrics = true // the webhook's lag: how the test knows it caught up
	h.setup()

	kills := 4
	if s := os.Getenv("CHILDCASE_HOOK_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CHILDCASE_HOOK_KILLS=%q: want a positive number", s)
		}
		kills = n
	}
	for k := 1; k <= kills; k++ {
		ctx, cancel := context.WithCancel(context.Background())
		stop := h.intakeLoad(ctx, 3)
		time.Sleep(time.Duration(300+h.rng.IntN(700)) * time.Millisecond)
		held, release := rc.arm()
		var d delivery
		select {
		case d = <-held:
		case <-time.After(20 * time.Second):
			rc.disarm()
			release()
			cancel()
			stop()
			t.Fatalf("kill %d: no delivery in 20 s under intake", k)
		}
		h.srv.kill()
		h.srv = nil
		release()
		cancel()
		stop()
		mark := rc.count()
		time.Sleep(time.Duration(500+h.rng.IntN(2000)) * time.Millisecond) // deadlines fall due while down
		h.srv = h.start()

		// The held notification comes again, first, the same.
		deadline := time.Now().Add(30 * time.Second)
		for rc.count() == mark && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		again := rc.since(mark)
		switch {
		case len(again) == 0:
			t.Errorf("kill %d: notification %d, sent and not acknowledged at the kill, was not sent again within 30 s of the restart", k, d.seq)
		case again[0].seq != d.seq:
			t.Errorf("kill %d: held delivery %d; the first after the restart is %d (at-least-once, in order)", k, d.seq, again[0].seq)
		case !bytes.Equal(again[0].body, d.body):
			t.Errorf("kill %d: delivery %d sent again with another body:\n%s\nfirst:\n%s", k, d.seq, again[0].body, d.body)
		default:
			t.Logf("kill %d: delivery %d held at the kill, sent again after the restart", k, d.seq)
		}
	}

	// Let the deliveries catch up (the webhook's cursor at the outbox's
	// head, as the server's metrics tell), then stop and compare with the
	// file. Deadlines still fire meanwhile: caught up is the lag seen at
	// 0 once, what was committed by then all delivered.
	h.awaitHookCaughtUp(rc, 60*time.Second)
	if err := h.srv.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	h.srv = nil
	h.checkHookDeliveries(rc)
}

// awaitHookCaughtUp waits until the running server's webhook has
// delivered every notification in its outbox: its lag
// (childcase_outbox_lag, the outbox's head less the webhook's cursor) is
// 0. It fails the test if that is not so within the deadline.
func (h *harness) awaitHookCaughtUp(rc *receiver, within time.Duration) {
	t := h.t
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		lag, err := hookLag(h.srv.metricsAddr, hookName)
		if err == nil && lag == 0 {
			t.Logf("the webhook caught up %s after the last restart's checks", within-time.Until(deadline))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not catch up within %s of the last restart: lag %g (%v); %d deliveries received", within, lag, err, rc.count())
		}
		time.Sleep(50 * time.Millisecond) // the next look at the metrics
	}
}

// hookLag reads the lag of the webhook name from the metrics served at
// addr.
func hookLag(addr, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	prefix := `childcase_outbox_lag{webhook="` + name + `"} `
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("the metrics have no %s", strings.TrimSpace(prefix))
}

// checkHookDeliveries compares what the receiver got with the stopped
// server's file: its outbox, the webhook's cursor and the timelines.
func (h *harness) checkHookDeliveries(rc *receiver) {
	t := h.t
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		t.Errorf("childcase check: exit %d:\n%s", code, out)
	}
	st, err := boltstore.OpenReadOnly(h.db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var notes []model.Notification
	var cursor uint64
	fired := map[string]int{} // case, deadline, kind, detail -> timeline events
	err = st.View(context.Background(), func(tx datastore.ReadTx) error {
		if cursor, err = tx.Cursor(outbox.CursorName(hookName)); err != nil {
			return err
		}
		for after := uint64(0); ; {
			ns, err := tx.Notifications(after, 500)
			if err != nil {
				return err
			}
			if len(ns) == 0 {
				break
			}
			notes = append(notes, ns...)
			after = ns[len(ns)-1].Seq
		}
		// Every case opened has its CASE_FORWARDED notification: the
		// outbox names every case.
		seen := map[string]bool{}
		for _, n := range notes {
			if seen[n.Case] {
				continue
			}
			seen[n.Case] = true
			c, err := tx.CaseByNumber(strings.TrimPrefix(n.Case, "cases/"))
			if err != nil {
				return fmt.Errorf("case %s of notification %d: %w", n.Case, n.Seq, err)
			}
			evs, err := allEventsTx(tx, c.ID)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if isFiring(e.kind) {
					fired[firingKey(n.Case, e.deadline, e.kind, e.detail)]++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the file: %v", err)
	}

	rc.mu.Lock()
	got, bad := append([]delivery(nil), rc.got...), rc.bad
	rc.mu.Unlock()
	for _, b := range bad {
		t.Errorf("receiver: %s", b)
	}
	bodies := map[uint64][]byte{}
	var highest uint64
	for _, d := range got {
		if first, ok := bodies[d.seq]; ok {
			if !bytes.Equal(first, d.body) {
				t.Errorf("delivery %d sent with two bodies:\n%s\n%s", d.seq, first, d.body)
			}
			continue
		}
		if d.seq <= highest {
			t.Errorf("delivery %d first sent after %d: out of order", d.seq, highest)
		}
		highest = max(highest, d.seq)
		bodies[d.seq] = d.body
	}
	deliveredTwice := len(got) - len(bodies)

	outboxFirings := map[string]int{}
	for _, n := range notes {
		want, err := webhook.Encode(n)
		if err != nil {
			t.Fatal(err)
		}
		body, sent := bodies[n.Seq]
		switch {
		case n.Seq <= cursor && !sent:
			t.Errorf("notification %d (%s, %s) is behind the webhook's cursor %d but was never delivered", n.Seq, n.Kind, n.Case, cursor)
		case sent && !bytes.Equal(body, want):
			t.Errorf("notification %d delivered as\n%s\nthe outbox holds\n%s", n.Seq, body, want)
		}
		if isFiring(n.Kind) {
			outboxFirings[firingKey(n.Case, n.DeadlineID, n.Kind, n.Detail)]++
		}
	}
	for k, n := range outboxFirings {
		if n != 1 || fired[k] != 1 {
			t.Errorf("%s: %d notifications in the outbox, %d events on the timeline; want 1 and 1", k, n, fired[k])
		}
	}
	for k, n := range fired {
		if outboxFirings[k] == 0 {
			t.Errorf("%s: %d events on the timeline and no notification", k, n)
		}
	}
	var head uint64
	if len(notes) > 0 {
		head = notes[len(notes)-1].Seq
	}
	t.Logf("%d notifications in the outbox (head %d), the webhook's cursor at %d; %d deliveries, %d of them repeats; %d deadline firings",
		len(notes), head, cursor, len(got), deliveredTwice, len(outboxFirings))
	if len(outboxFirings) == 0 {
		t.Errorf("no deadline fired: the test tested no firing")
	}
}

// isFiring reports whether a timeline event or notification of kind is
// one the scheduler writes when a deadline's timer fires.
func isFiring(kind string) bool {
	return kind == "DEADLINE_WARNING" || kind == "DEADLINE_BREACHED" || kind == "ESCALATED"
}

// firingKey names one firing of a deadline.
func firingKey(caseName string, deadline int, kind, detail string) string {
	return fmt.Sprintf("%s deadline %d %s %q", caseName, deadline, kind, detail)
}
