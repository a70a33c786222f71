package intake

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// A log line about a case names it by its case number, which an operator
// can look up and read out, never by its internal storage key.
func TestAwaitIndexLogsTheCaseNumber(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	store := memstore.New()
	s := New(Deps{Store: store, Log: log, Search: search.New(search.Deps{Store: store, Log: log})})

	// No case has key 4242: the entry cannot be written, which is logged.
	s.awaitIndex(context.Background(), 4242, "HN-2026-00123")

	line := logs.String()
	if !strings.Contains(line, "case=HN-2026-00123") {
		t.Errorf("the log line does not name the case number: %s", line)
	}
	if strings.Contains(line, "case_id") {
		t.Errorf("the log line names the case's internal key: %s", line)
	}
}
