package webhook

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/childcase/childcase/internal/domain/policy"
)

// A panic while a webhook delivers (here in the metrics' callback of a
// failed attempt) starts that webhook again from its stored cursor after
// its backoff, logged at ERROR with the panic's type and stack, never its
// value; the other webhooks deliver on. It ended the process: each
// webhook delivers in a goroutine of its own, which the leader's recovery
// of its duties (in the goroutine that called Run) does not reach.
func TestAPanicWhileDeliveringStartsTheWebhookAgain(t *testing.T) {
	s := openStore(t)
	h := newHub()
	appendN(t, s, nil, 1)
	putCursor(t, s, "webhook/a", 1)
	putCursor(t, s, "webhook/b", 1)
	r := newReceiver(t, func(n int, d delivery) int {
		if d.hook == "a" && d.seq == 2 && n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	var logs syncBuffer
	d := newTestDeliverer(s, []policy.Webhook{hook("a", r.srv.URL), hook("b", r.srv.URL)}, h, slog.New(slog.NewJSONHandler(&logs, nil)))
	var panicked atomic.Bool
	d.Failed = func(string) {
		if panicked.CompareAndSwap(false, true) {
			panic("no handling for Nguyễn Thị Hoa")
		}
	}
	start(t, d)
	appendN(t, s, h, 3)

	waitFor(t, "the cursors at 4", func() bool { return cursor(t, s, "webhook/a") == 4 && cursor(t, s, "webhook/b") == 4 })
	if got, want := r.seqs("a"), []uint64{2, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("requests to a %v, want %v", got, want)
	}
	if got, want := r.seqs("b"), []uint64{2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("requests to b %v, want %v", got, want)
	}
	out := logs.String()
	if !strings.Contains(out, `"panic.type":"string"`) || !strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, `"webhook":"a"`) {
		t.Errorf("the log does not say webhook a's delivery panicked:\n%s", out)
	}
	if strings.Contains(out, "Hoa") {
		t.Errorf("the log holds the panic's value, a name:\n%s", out)
	}
}
