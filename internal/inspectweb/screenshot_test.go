package inspectweb_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/matryer/is"

	"github.com/dboslite/dboslite/internal/inspectweb"
)

var screenshotDir = flag.String("screenshot", "", "write inspect-list.png and inspect-detail.png, the README's screenshots, to this directory (relative to the module's root)")

// TestScreenshot takes the README's screenshots of the list and detail
// pages when -screenshot names a directory:
//
//	go test ./internal/inspectweb -run Screenshot -screenshot docs
func TestScreenshot(t *testing.T) {
	if *screenshotDir == "" {
		t.Skip("no -screenshot directory")
	}
	is := is.New(t)
	dir := *screenshotDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // the test runs in internal/inspectweb
	}
	is.NoErr(os.MkdirAll(dir, 0o755))
	ctx := browser(t)
	c := fill(t, backends(t)[0].url)
	srv := view(t, c, inspectweb.Options{})
	for _, shot := range []struct{ file, path, ready string }{
		{"inspect-list.png", "/", "workflows"},
		{"inspect-detail.png", "/wf/" + parentID, "timeline"},
	} {
		is.NoErr(chromedp.Do(ctx,
			chromedp.EmulateViewport(1000, 720),
			chromedp.Navigate(srv.URL+shot.path),
			chromedp.WaitVisible(chromedp.ID(shot.ready)),
		))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		is.NoErr(err)
		is.NoErr(os.WriteFile(filepath.Join(dir, shot.file), png, 0o644))
		t.Logf("wrote %s (%d bytes)", filepath.Join(*screenshotDir, shot.file), len(png))
	}
}
