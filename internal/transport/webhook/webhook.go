// Package webhook delivers the transactional outbox to the webhooks of the
// deadline policy: every notification, to every webhook, at least once and
// in order of seq (so in order per case), signed with HMAC-SHA256.
//
// # Delivery
//
// Each webhook has its own goroutine and its own cursor, stored under the
// name "webhook/"+name: the seq of the last notification the receiver
// acknowledged. Notification n+1 is not sent before n was acknowledged with
// a 2xx status; any other status (redirects are not followed), a transport
// error or no answer within Timeout is retried, the same notification again,
// after a backoff that starts at Backoff, doubles and is capped at
// MaxBackoff, each wait drawn uniformly from [d/2, d] so that receivers
// coming back up are not hit by every sender at once. The cursor is written
// after each 2xx; a crash between the 2xx and that write sends the
// notification again, so receivers must treat X-Childcase-Delivery (the
// seq, unique per webhook) as an idempotency key.
//
// A webhook the store has never seen starts at the current end of the
// outbox: adding a webhook does not replay history. (Its registration is
// stored under "webhook/"+name+"/registered", so that a webhook added while
// the outbox was empty is not mistaken for a new one after a restart, which
// would skip what it had not yet delivered.) A webhook removed from the
// policy and added again later resumes from its old cursor; to start afresh,
// give it a new name.
//
// # Requests
//
// Each notification is a POST with Content-Type application/json of one
// JSON object:
//
//	{"seq": 42, "time": "2026-03-14T02:26:53Z", "kind": "DEADLINE_BREACHED",
//	 "case": "cases/HN-2026-00001", "units": ["units/..."],
//	 "deadline_id": 3, "detail": "..."}
//
// with the headers
//
//	X-Childcase-Webhook:   the webhook's name
//	X-Childcase-Delivery:  the seq
//	X-Childcase-Timestamp: the time of this attempt, in unix seconds
//	X-Childcase-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// The signature covers the timestamp (its decimal digits, a '.', then the
// body bytes exactly as received), so a receiver that checks it with
// Verify and refuses timestamps more than a few minutes from its own clock
// also refuses a captured request replayed later. Each retry is signed
// afresh with a new timestamp.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/outbox"
	"github.com/childcase/childcase/internal/domain/panics"
	"github.com/childcase/childcase/internal/domain/policy"
)

// Header names of a delivery.
const (
	HeaderWebhook   = "X-Childcase-Webhook"
	HeaderDelivery  = "X-Childcase-Delivery"
	HeaderTimestamp = "X-Childcase-Timestamp"
	HeaderSignature = "X-Childcase-Signature"
)

// Defaults of the Deliverer's tunables.
const (
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	DefaultTimeout    = 10 * time.Second
	DefaultPoll       = time.Second
	DefaultBatch      = 100
)

// Deliverer delivers the outbox to webhooks. Its exported fields may be
// changed after New and before Run.
type Deliverer struct {
	// Backoff is the first wait after a failed attempt; it doubles with
	// each further failure up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one request, answer included.
	Timeout time.Duration
	// Poll bounds the wait for new notifications when no wake-up comes.
	Poll time.Duration
	// Batch is how many notifications are read from the store at once.
	Batch int
	// Failed, when set, is told of every failed attempt, by the
	// webhook's name (for the metrics).
	Failed func(webhook string)

	outbox *outbox.Service
	hooks  []policy.Webhook
	wake   func() <-chan struct{}
	clk    clock.Clock
	log    *slog.Logger
	client *http.Client
}

// New returns a Deliverer for hooks. wake returns a channel closed at the
// next commit with notifications (process.Hub.Wait); nil means polling
// only. A nil client means a default one; either way redirects are not
// followed, since they would carry the signed request elsewhere. clk gives
// the timestamps that are signed; waits use real time.
func New(ob *outbox.Service, hooks []policy.Webhook, wake func() <-chan struct{}, clk clock.Clock, log *slog.Logger, client *http.Client) *Deliverer {
	c := &http.Client{}
	if client != nil {
		cp := *client
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if clk == nil {
		clk = clock.System{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{
		Backoff:    DefaultBackoff,
		MaxBackoff: DefaultMaxBackoff,
		Timeout:    DefaultTimeout,
		Poll:       DefaultPoll,
		Batch:      DefaultBatch,
		outbox:     ob,
		hooks:      append([]policy.Webhook(nil), hooks...),
		wake:       wake,
		clk:        clk,
		log:        log,
		client:     c,
	}
}

// Run delivers until ctx ends, one goroutine per webhook, and returns when
// they have all stopped (at once when there are no webhooks).
//
// A webhook whose delivery panics starts again from its stored cursor
// after its backoff, longer after each panic in a row, and the others
// deliver on: the leader's recovery of its duties, in the goroutine that
// called Run, does not reach these goroutines, and a panic left to them
// ended the process. What was sent and not acknowledged is sent again,
// which the receiver takes as the same delivery (its seq).
func (d *Deliverer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range d.hooks {
		wg.Go(func() {
			for panics := 0; !d.runRecovered(ctx, h); panics++ {
				if !sleep(ctx, d.backoff(panics)) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// runRecovered runs the delivery to h, and reports whether it returned
// rather than panicked. The panic is logged with its type and stack and,
// for a runtime error, its message (words and numbers of the program),
// never its value, which may hold what a notification says.
func (d *Deliverer) runRecovered(ctx context.Context, h policy.Webhook) (returned bool) {
	defer func() {
		if p := recover(); p != nil {
			attrs := append([]any{"webhook", h.Name}, panics.Attrs(p)...)
			d.log.ErrorContext(ctx, "webhook: its delivery panicked and starts again from its cursor; the stack says where: report it", attrs...)
		}
	}()
	d.run(ctx, h)
	return true
}

// run delivers to one webhook until ctx ends.
func (d *Deliverer) run(ctx context.Context, h policy.Webhook) {
	log := d.log.With("webhook", h.Name)
	if len(h.Secret) == 0 {
		log.Error("webhook: no signing secret; nothing will be delivered to it")
		return
	}
	var cur uint64
	for failures := 0; ; failures++ {
		var err error
		if cur, err = d.outbox.Start(ctx, h.Name); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		wait := d.backoff(failures)
		log.Error("webhook: cannot read, or register, its delivery cursor", "err", err, "retry_in", wait.String())
		if !sleep(ctx, wait) {
			return
		}
	}
	log.Info("webhook: delivering", "after_seq", cur)

	failures := 0
	for ctx.Err() == nil {
		// Take the wake-up channel before reading, so that a commit
		// between the read and the wait is not missed.
		var wake <-chan struct{}
		if d.wake != nil {
			wake = d.wake()
		}
		batch, err := d.outbox.Read(ctx, cur, max(d.Batch, 1))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := d.backoff(failures)
			failures++
			log.Error("webhook: cannot read the outbox", "after_seq", cur, "err", err, "retry_in", wait.String())
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		failures = 0
		if len(batch) == 0 {
			poll := time.NewTimer(d.Poll)
			select {
			case <-ctx.Done():
			case <-wake:
			case <-poll.C:
			}
			poll.Stop()
			continue
		}
		for _, n := range batch {
			if !d.deliver(ctx, log, h, n) {
				return
			}
			cur = n.Seq
		}
	}
}

// deliver sends n until the receiver acknowledges it and the cursor is
// stored; false when ctx ended first. The delivery is audited before the
// first attempt (outbox.Sending): nothing is sent until it is.
func (d *Deliverer) deliver(ctx context.Context, log *slog.Logger, h policy.Webhook, n model.Notification) bool {
	body, err := Encode(n)
	if err != nil { // cannot happen: every field is a plain value
		log.Error("webhook: cannot encode a notification", "seq", n.Seq, "err", err)
		return false
	}
	for attempt := 0; ; attempt++ {
		err := d.outbox.Sending(ctx, h.Name, n, d.clk.Now())
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		wait := d.backoff(attempt)
		log.Error("webhook: cannot audit the delivery; nothing is sent until it is", "seq", n.Seq, "err", err, "retry_in", wait.String())
		if !sleep(ctx, wait) {
			return false
		}
	}
	for attempt := 0; ; attempt++ {
		status, err := d.send(ctx, h, n.Seq, body)
		if ctx.Err() != nil {
			return false
		}
		if err == nil && status/100 == 2 {
			// Record the acknowledgement even if ctx ends now: the
			// receiver has it, and sending it again is only harmless.
			err = d.outbox.Acknowledge(context.WithoutCancel(ctx), h.Name, n)
			if err == nil {
				if attempt > 0 {
					log.Info("webhook: delivered after retries", "seq", n.Seq, "attempts", attempt+1)
				}
				return true
			}
			wait := d.backoff(attempt)
			log.Error("webhook: delivered but cannot store the cursor; will send again", "seq", n.Seq, "status", status, "err", err, "retry_in", wait.String())
			if !sleep(ctx, wait) {
				return false
			}
			continue
		}
		wait := d.backoff(attempt)
		args := []any{"seq", n.Seq, "status", status, "attempt", attempt + 1, "retry_in", wait.String()}
		if err != nil {
			args = append(args, "err", err)
		}
		log.Warn("webhook: delivery failed", args...)
		if d.Failed != nil {
			d.Failed(h.Name)
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// send makes one attempt and returns the status, or an error without the
// URL (which may hold credentials).
func (d *Deliverer) send(ctx context.Context, h policy.Webhook, seq uint64, body []byte) (int, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the webhook URL is not valid")
	}
	ts := d.clk.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "childcase-webhook")
	req.Header.Set(HeaderWebhook, h.Name)
	req.Header.Set(HeaderDelivery, strconv.FormatUint(seq, 10))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(h.Secret, ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return 0, err
	}
	// Drain a little so the connection can be reused; never log it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// backoff returns the wait after failure number attempt (from 0): uniform
// in [d/2, d] with d = Backoff·2^attempt capped at MaxBackoff.
func (d *Deliverer) backoff(attempt int) time.Duration {
	base, ceil := d.Backoff, d.MaxBackoff
	if base <= 0 {
		base = DefaultBackoff
	}
	if ceil < base {
		ceil = base
	}
	w := base
	for i := 0; i < attempt && w < ceil; i++ {
		w *= 2
	}
	w = min(w, ceil)
	half := w / 2
	return w - half + rand.N(half+1)
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// payload is the JSON form of a notification.
type payload struct {
	Seq        uint64   `json:"seq"`
	Time       string   `json:"time"`
	Kind       string   `json:"kind"`
	Case       string   `json:"case"`
	Units      []string `json:"units"`
	DeadlineID int      `json:"deadline_id"`
	Detail     string   `json:"detail"`
}

// Encode returns the body delivered for n: time in RFC 3339, UTC, to the
// second; units as an array, empty rather than null.
func Encode(n model.Notification) ([]byte, error) {
	units := n.Units
	if units == nil {
		units = []string{}
	}
	return json.Marshal(payload{
		Seq:        n.Seq,
		Time:       n.Time.UTC().Format(time.RFC3339),
		Kind:       n.Kind,
		Case:       n.Case,
		Units:      units,
		DeadlineID: n.DeadlineID,
		Detail:     n.Detail,
	})
}

// Sign returns the X-Childcase-Signature value of a request:
// "sha256=" and the hex HMAC-SHA256, under secret, of the timestamp in
// decimal, a '.', and the body.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is Sign(secret, timestamp, body), in
// constant time. It does not judge the timestamp's age: receivers should
// also refuse timestamps far from their own clock.
func Verify(secret []byte, timestamp int64, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}
