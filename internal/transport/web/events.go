package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// EventsRoute is the console's stream of server-sent events: the API's
// notifications watch of the signed-in person, which the queues page
// follows to refresh its list without a reload.
const EventsRoute = "GET /events"

// StreamRoutes are the console's routes that answer a stream. The server's
// WriteTimeout would cut them after a minute; the wiring gives them the
// API's streaming write bound instead (httpapi.WithConsole).
var StreamRoutes = []string{EventsRoute}

// Heartbeat is how often an idle event stream sends a comment: it keeps
// proxies from closing a quiet connection, shows a client that has gone
// (the write fails), and checks that the session is still alive.
const Heartbeat = 25 * time.Second

// liveHeader marks a request the page's script makes by itself (the live
// refresh of a list): it does not count as the person's activity.
const liveHeader = "X-Childcase-Live"

// watchMethod is the API method the event stream is built on.
const watchMethod = "CaseProcessService/WatchEvents"

// retryMillis is how long a browser waits before it reconnects a stream
// that ended (the server restarted): a restart signs everyone out, so the
// reconnection finds the sign-in page and stops there. The page's script
// asks again at the same pace for a list the service did not answer (a
// proxy's 502 while it restarts): console.js, retryEvery.
const retryMillis = 5000

// liveEvent is all an event tells the page: which kind of thing happened
// to which case. The page fetches the rest through its own list, which
// the API scopes as it scopes every list.
type liveEvent struct {
	Kind string `json:"kind"`
	Case string `json:"case"`
}

// The reasons an event stream ends with an "end" event, so that the page
// does not reconnect to a stream that would end again.
const (
	endSignedOut = "signed-out" // the page goes to the sign-in page
	endRefused   = "refused"    // the API refused the watch; the page stays as it is
)

func (c *Console) eventRoutes(mux *http.ServeMux) {
	mux.HandleFunc(EventsRoute, c.signedPassive(c.events))
}

// Close ends the open event streams. The server calls it when it begins
// to shut down: http.Server.Shutdown waits for every open answer, and a
// stream would otherwise hold it until its timeout.
func (c *Console) Close() { c.stopOnce.Do(func() { close(c.stopping) }) }

// events streams the API's notifications watch of the session as
// server-sent events: one data line per notification, with its kind and
// case number only, and a heartbeat comment every Heartbeat. It ends when
// the client goes, when the session ends (signed out, idle: checked at
// each heartbeat and before each event, without counting as activity), or
// when the server stops.
// Each event's id is the notification's seq, so a browser that reconnects
// (Last-Event-ID) misses nothing the API would have sent it.
func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := context.WithCancel(c.apiContext(r, s))
	defer cancel()
	if !mayUse(s, watchMethod) {
		// The API refuses it: its refusal is audited (auth.denied) as
		// the same call made to the API is.
		stream, err := c.api.process.WatchEvents(ctx, &pb.WatchEventsRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		c.refused(w, r, s, err)
		return
	}
	after := lastEventID(r)
	stream, err := c.api.process.WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: after})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	// Wait for the API's own answer to begin: once its headers are here,
	// its handler runs and the stream counts against the user's limit, so
	// a stream the console has answered is one the API has taken on (a
	// refused one then ends with the refusal, below).
	if _, err := stream.Header(); err != nil {
		c.apiError(w, r, s, err)
		return
	}
	got := make(chan *pb.Notification)
	failed := make(chan error, 1)
	go func() {
		for first := true; ; first = false {
			n, err := stream.Recv()
			if first && after != 0 && status.Code(err) == codes.InvalidArgument {
				// A Last-Event-ID the service never sent (after_seq.sent:
				// a page left open across a restore from an older
				// backup): from now, as the API advises, rather than an
				// end that stops the page's live refresh for good.
				if stream, err = c.api.process.WatchEvents(ctx, &pb.WatchEventsRequest{}); err == nil {
					continue
				}
			}
			if err != nil {
				failed <- err
				return
			}
			select {
			case got <- n:
			case <-ctx.Done():
				return
			}
		}
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no") // a proxy must pass each event at once
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(format string, args ...any) bool {
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	end := func(why string) { send("event: end\ndata: %s\n\n", why) }
	if !send("retry: %d\n\n", retryMillis) {
		return
	}
	tick := time.NewTicker(Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.stopping:
			return
		case <-s.ended:
			end(endSignedOut)
			return
		case <-tick.C:
			if c.sessionOver(r.Context(), s) {
				end(endSignedOut)
				return
			}
			if !send(": heartbeat\n\n") {
				return
			}
		case n := <-got:
			// A session that ended idle is still open for the API (its
			// token is revoked by the minute sweep or the heartbeat):
			// a page left open must not hear of a case after its end.
			if c.sessionOver(r.Context(), s) {
				end(endSignedOut)
				return
			}
			b, err := json.Marshal(liveEvent{Kind: n.GetKind(), Case: strings.TrimPrefix(n.GetCase(), "cases/")})
			if err != nil || !send("id: %d\ndata: %s\n\n", n.GetSeq(), b) {
				return
			}
		case err := <-failed:
			switch status.Code(err) {
			case codes.Unauthenticated:
				// The token was revoked or expired: the session is over.
				c.sessions.remove(s.id, "its token no longer signs in")
				end(endSignedOut)
				return
			case codes.Canceled, codes.Unavailable:
				return // the client went, or the server is stopping: the browser may reconnect
			}
			if errors.Is(err, io.EOF) || r.Context().Err() != nil {
				return
			}
			c.cfg.Log.WarnContext(r.Context(), "console: event stream", "user", s.user.ID, "err", err)
			end(endRefused)
			return
		}
	}
}

// sessionOver reports whether s has ended (idle, or at its token's
// expiry), without counting as its activity; a session found over here
// has its token revoked, as the minute sweep would.
func (c *Console) sessionOver(ctx context.Context, s *session) bool {
	live, ended := c.sessions.peek(s.id)
	if ended != nil {
		c.endToken(ctx, ended)
	}
	return live == nil
}

// lastEventID is the seq a reconnecting browser last received, or 0 (start
// from now) when it sent none or one that is no seq.
func lastEventID(r *http.Request) uint64 {
	seq, err := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
	if err != nil {
		return 0
	}
	return seq
}
