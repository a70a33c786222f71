package app_test

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestBrowserStackedMarksDoNotDrawOverOtherText: a note that stacks 60
// combining marks on one letter, above and below it, stored before the
// API refused such text (string.stacked_marks) as an old database holds
// it, drew its towers of marks over the dossier's lines around it. The
// lines and cells that show text a person typed clip what is drawn
// outside them: the lines above and below it look as they do beside a
// plain letter, and Vietnamese's own marks are not cut.
func TestBrowserStackedMarksDoNotDrawOverOtherText(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)
	note := func(text string) {
		t.Helper()
		if _, err := ts.process().AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	// Vietnamese's own marks, two on a capital, above and below.
	note("Ghi chú trước: ỄỖẪẶỆỮỢ ựỵậ đã gọi điện cho mẹ em")
	tower := "Ghi chú cũ: a" + strings.Repeat("\u0301\u0323", 30) + " hết"
	if err := ts.AddNoteUnchecked(t.Context(), name, etagOf(t, ts, "bd.worker", name), "bd.worker", "COMMUNE_WORKER", pBaDinh, tower); err != nil {
		t.Fatal(err)
	}
	note("Ghi chú sau: đã đến thăm nhà")

	base := "http://" + ts.HTTPAddr()
	ctx := newTab(t)
	browserSignIn(t, ctx, base, "bd.worker", "pw-bd.worker")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cases/"+number+"?timeline=all"), chromedp.WaitVisible(chromedp.CSS("#timeline"))); err != nil {
		t.Fatal(err)
	}
	// The dossier's lines of the tower's note and of the lines around it
	// (its own fields', the notes' before and after it), marked so that
	// a screenshot can find them.
	missing, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const lines = [...document.querySelectorAll('[id="case.dossier"] dd')];
		const at = text => lines.findIndex(dd => dd.textContent.includes(text));
		const i = at('Ghi chú cũ'), before = at('Ghi chú trước'), after = at('Ghi chú sau');
		if (i < 1 || i + 1 >= lines.length || before < 0 || after < 0) return lines.map(dd => dd.textContent).join(' | ');
		if (!/\p{M}{30}/u.test(lines[i].textContent.normalize('NFD'))) return 'the note shows no tower of marks: ' + lines[i].textContent;
		lines[i].id = 'tower';
		lines[i-1].id = 'line-before'; lines[i+1].id = 'line-after';
		lines[before].id = 'note-before'; lines[after].id = 'note-after';
		return '';
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if missing != "" {
		t.Fatalf("the case page's dossier shows no note holding the tower of marks between two others: %q", missing)
	}
	around := []string{"line-before", "line-after", "note-before", "note-after"}
	shots := func() map[string]image.Image {
		t.Helper()
		out := map[string]image.Image{}
		for _, id := range around {
			b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID(id)))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			out[id] = img
		}
		return out
	}
	withTower := shots()
	// The same page with the letter's marks taken away: what the cells
	// around it show when nothing draws over them.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const td = document.getElementById('tower');
		td.textContent = td.textContent.normalize('NFD').replace(/\p{M}+/gu, m => m.length > 4 ? '' : m).normalize('NFC');
	})()`)); err != nil {
		t.Fatal(err)
	}
	plain := shots()
	for _, id := range around {
		if n := differing(withTower[id], plain[id]); n > 0 {
			t.Errorf("the dossier's %s the tower of marks: %d pixels drawn over by it", id, n)
		}
	}
	// The clip takes nothing from Vietnamese: the dossier looks the same
	// with the lines' overflow shown.
	clipped, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`[id="case.dossier"] dl`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('dd').forEach(dd => dd.style.overflow = 'visible')`)); err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`[id="case.dossier"] dl`)))
	if err != nil {
		t.Fatal(err)
	}
	a, errA := png.Decode(bytes.NewReader(clipped))
	b, errB := png.Decode(bytes.NewReader(shown))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if n := differing(a, b); n > 0 {
		t.Errorf("the clip cuts Vietnamese marks: the dossier differs by %d pixels with the overflow shown", n)
	}
}

// differing counts the pixels two images differ by (all of the larger's
// when their sizes differ).
func differing(a, b image.Image) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return max(a.Bounds().Dx()*a.Bounds().Dy(), b.Bounds().Dx()*b.Bounds().Dy())
	}
	n := 0
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			ar, ag, ab, aa := a.At(a.Bounds().Min.X+x, a.Bounds().Min.Y+y).RGBA()
			br, bg, bb, ba := b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y).RGBA()
			if ar != br || ag != bg || ab != bb || aa != ba {
				n++
			}
		}
	}
	return n
}
