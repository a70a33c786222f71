package app_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/keys"
)

// A start refused for its key file leaves the database's folder as it
// found it: the reserve file (<db>.reserve, the room kept back for a full
// disk), which the start makes when it opens the database, is removed
// again when that start made it (a database copied or restored into a
// folder of its own, started with the wrong key), and kept when it was
// there before. It was left behind.
func TestAStartRefusedForItsKeyLeavesTheFolderAsItFoundIt(t *testing.T) {
	ts := startServer(t, "")
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	cfg := ts.cfg
	reserve := cfg.DBPath + ".reserve"
	if _, err := os.Stat(reserve); err != nil {
		t.Fatalf("the server made no reserve file: %v", err)
	}
	other, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(cfg.KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(cfg.KeyFile, other); err != nil {
		t.Fatal(err)
	}
	folder := func() []string {
		t.Helper()
		var names []string
		for _, d := range []string{filepath.Dir(cfg.DBPath), filepath.Dir(cfg.KeyFile)} {
			ents, err := os.ReadDir(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				names = append(names, filepath.Join(d, e.Name()))
			}
		}
		slices.Sort(names)
		return slices.Compact(names)
	}

	for _, tc := range []struct {
		name       string
		hadReserve bool
	}{
		{"a folder without the reserve file", false},
		{"a folder with the reserve file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.hadReserve {
				if err := os.Remove(reserve); err != nil {
					t.Fatal(err)
				}
			}
			before := folder()
			srv, _, err := confStart(cfg)
			if err == nil {
				srv.Stop()
				t.Fatal("a start with another master key succeeded")
			}
			if after := folder(); !slices.Equal(after, before) {
				t.Errorf("a start refused (%v) changed the folder:\nbefore %v\nafter  %v", err, before, after)
			}
		})
	}
}
