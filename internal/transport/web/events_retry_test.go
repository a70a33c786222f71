package web

import (
	"fmt"
	"strings"
	"testing"
)

// The page asks again for a list the service did not answer (a proxy's
// 502 while it restarts) at the stream's own retry delay, which the
// server sends the browser: the two are one figure, so that a change of
// the one does not leave the page polling at another pace.
func TestPageRetriesAtTheStreamsRetryDelay(t *testing.T) {
	js, err := files.ReadFile("static/console.js")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("var retryEvery = %d;", retryMillis); !strings.Contains(string(js), want) {
		t.Errorf("console.js has no %q: its retry is not the stream's (retryMillis)", want)
	}
}
