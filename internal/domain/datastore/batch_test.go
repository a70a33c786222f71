package datastore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// FitBatch halves a batch the store refuses as too large until one fits,
// and answers the limit that committed; another error ends it at once,
// and a single item too large fails with the store's error.
func TestFitBatch(t *testing.T) {
	for _, tt := range []struct {
		name      string
		fits      int   // the largest batch the store commits; 0: none
		other     error // an error other than too large, at the first try
		wantLimit int
		wantTries []int
		wantErr   error
	}{
		{name: "fits at once", fits: 1000, wantLimit: 256, wantTries: []int{256}},
		{name: "halved twice", fits: 70, wantLimit: 64, wantTries: []int{256, 128, 64}},
		{name: "down to one", fits: 1, wantLimit: 1, wantTries: []int{256, 128, 64, 32, 16, 8, 4, 2, 1}},
		{name: "one item too large", fits: 0, wantLimit: 1, wantTries: []int{256, 128, 64, 32, 16, 8, 4, 2, 1}, wantErr: model.ErrTooLarge},
		{name: "another error", fits: 1, other: model.ErrFull, wantLimit: 256, wantTries: []int{256}, wantErr: model.ErrFull},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tries []int
			limit, err := datastore.FitBatch(256, func(limit int) error {
				tries = append(tries, limit)
				if tt.other != nil {
					return tt.other
				}
				if limit > tt.fits {
					return fmt.Errorf("a commit of %d: %w", limit, model.ErrTooLarge)
				}
				return nil
			})
			if limit != tt.wantLimit || !slices.Equal(tries, tt.wantTries) || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("FitBatch = %d, %v after tries %v; want %d, %v after %v", limit, err, tries, tt.wantLimit, tt.wantErr, tt.wantTries)
			}
		})
	}
}
