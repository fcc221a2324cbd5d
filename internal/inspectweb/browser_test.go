package inspectweb_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/internal/inspectweb"
)

// browserTimeout bounds a whole browser test, Chromium's start included.
const browserTimeout = 30 * time.Second

// browser starts a headless Chromium for the test and returns its
// context. Without a Chromium it skips the test, saying how to install
// one, or fails it under CI, where the test must run.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "no Chromium found: install it (apt-get install -y chromium) to run the browser test"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1100, 760))
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// forger serves a page of another origin that posts a form to action as
// soon as it loads, as a malicious site would.
func forger(t *testing.T, action string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s"><input name="token" value="forged"></form>
<script>document.getElementById("f").submit()</script>`, action)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBrowser(t *testing.T) {
	bctx := browser(t)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			is := is.New(t)
			c := fill(t, b.url)
			ctx, cancel := chromedp.NewContext(bctx) // a tab of its own
			defer cancel()
			dialogs := make(chan string, 8)
			is.NoErr(chromedp.Listen(ctx, func(ev any) {
				if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
					select {
					case dialogs <- d.Message:
					default:
					}
					go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{}) // the page goes on
				}
			}))
			srv := view(t, c, inspectweb.Options{})

			// The list shows the known workflow; its link opens its page.
			row := `tr.wf[data-id="` + checkoutID + `"]`
			is.NoErr(chromedp.Do(ctx,
				chromedp.Navigate(srv.URL+"/"),
				chromedp.WaitVisible(chromedp.CSS(row)),
				chromedp.Click(chromedp.CSS(row+" td.id a")),
				chromedp.WaitVisible(chromedp.ID("timeline")),
			))
			loc, err := chromedp.Run(ctx, chromedp.Location())
			is.NoErr(err)
			is.Equal(loc, srv.URL+"/wf/"+checkoutID) // the click opened the detail page

			// The timeline has one bar per step.
			steps, err := c.Steps(ctx, checkoutID)
			is.NoErr(err)
			bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.timeline rect.step").length`))
			is.NoErr(err)
			is.Equal(bars, len(steps)) // a bar per step
			is.Equal(bars, 3)

			// Read-only: no write button, no form that posts.
			writes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.write, form[method=post]").length`))
			is.NoErr(err)
			is.Equal(writes, 0) // no write button without AllowWrites

			// A workflow whose output is a script shows it as text.
			is.NoErr(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/wf/"+xssID), chromedp.WaitVisible(chromedp.ID("output"))))
			out, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("output")))
			is.NoErr(err)
			is.True(strings.Contains(out, xssOutput)) // the script is visible as text
			injected, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length + document.images.length`))
			is.NoErr(err)
			is.Equal(injected, 0) // and no payload became an element

			// A forged POST from another site is refused, and changes nothing.
			is.NoErr(chromedp.Do(ctx, chromedp.Navigate(forger(t, srv.URL+"/cancel/"+waiterID)), chromedp.WaitVisible(chromedp.ID("error"))))
			code, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
			is.NoErr(err)
			is.Equal(code, "405") // read-only: every POST refused
			is.Equal(status(t, c, waiterID), durable.StatusPending)

			// With writes allowed, the forged POST is refused still; the
			// view's own button works.
			wsrv := view(t, c, inspectweb.Options{AllowWrites: true})
			is.NoErr(chromedp.Do(ctx, chromedp.Navigate(forger(t, wsrv.URL+"/cancel/"+waiterID)), chromedp.WaitVisible(chromedp.ID("error"))))
			code, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
			is.NoErr(err)
			is.Equal(code, "403") // a cross-site request
			is.Equal(status(t, c, waiterID), durable.StatusPending)
			is.NoErr(chromedp.Do(ctx,
				chromedp.Navigate(wsrv.URL+"/wf/"+waiterID),
				chromedp.Click(chromedp.ID("cancel")),
				chromedp.WaitVisible(chromedp.ID("resume")), // shown once cancelled
			))
			is.Equal(status(t, c, waiterID), durable.StatusCancelled) // the real button cancels

			// No dialog opened: the first one the listener sees is this
			// probe, which also shows that it would have seen one.
			is.NoErr(chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`setTimeout(() => alert("probe"), 0)`)))
			select {
			case msg := <-dialogs:
				is.Equal(msg, "probe") // no page opened a dialog before
			case <-ctx.Done():
				t.Fatal("the probe's dialog never came")
			}
		})
	}
}
