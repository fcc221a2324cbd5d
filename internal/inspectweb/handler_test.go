package inspectweb_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/internal/inspectweb"
)

// view serves the web view of c for the test's duration.
func view(t *testing.T, c *durable.Client, o inspectweb.Options) *httptest.Server {
	t.Helper()
	h, err := inspectweb.Handler(c, o)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path and returns the status code and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// post posts form to path with headers h, not following redirects, and
// returns the status code and Location.
func post(t *testing.T, srv *httptest.Server, path string, form url.Values, h map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	cl := *srv.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func status(t *testing.T, c *durable.Client, id string) durable.Status {
	t.Helper()
	page, err := c.ListWorkflows(context.Background(), durable.ListQuery{IDs: []string{id}})
	if err != nil || len(page.Workflows) != 1 {
		t.Fatalf("status of %s: %v (%d found)", id, err, len(page.Workflows))
	}
	return page.Workflows[0].Status
}

var (
	rowRE     = regexp.MustCompile(`<tr class="wf" data-id="([^"]*)"`)
	stepBarRE = regexp.MustCompile(`<rect class="step[ "]`)
	tokenRE   = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)
)

func TestHandlers(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := fill(t, b.url)
			t.Run("list", func(t *testing.T) { testList(t, c) })
			t.Run("detail", func(t *testing.T) { testDetail(t, c) })
			t.Run("escaping", func(t *testing.T) { testEscaping(t, c) })
			t.Run("read-only", func(t *testing.T) { testReadOnly(t, c) })
			t.Run("writes", func(t *testing.T) { testWrites(t, c) })
		})
	}
}

func testList(t *testing.T, c *durable.Client) {
	is := is.New(t)
	srv := view(t, c, inspectweb.Options{})
	code, body := get(t, srv, "/")
	is.Equal(code, http.StatusOK)
	is.True(strings.Contains(body, `data-id="`+checkoutID+`"`)) // the list shows the known workflow
	is.True(strings.Contains(body, "emails</a> 1 waiting"))     // and the queue's depth
	is.True(strings.Contains(body, `/static/refresh.js`))       // active workflows listed: the page refreshes

	_, body = get(t, srv, "/?status=error")
	is.Equal(ids(body), []string{failedID}) // filtered by status
	_, body = get(t, srv, "/?name=batch")
	is.Equal(ids(body), []string{parentID}) // by name
	_, body = get(t, srv, "/?queue=emails")
	is.Equal(ids(body), []string{queuedID}) // by queue
	_, body = get(t, srv, "/?prefix=notify-")
	is.Equal(ids(body), []string{notifyID})        // by ID prefix
	is.True(!strings.Contains(body, "refresh.js")) // nothing active listed: no refresh

	// Paging: pages of 2 go through every workflow once.
	_, all := get(t, srv, "/")
	var paged []string
	next := "/?n=2"
	for next != "" {
		_, body := get(t, srv, next)
		paged = append(paged, ids(body)...)
		next = ""
		if m := regexp.MustCompile(`href="([^"]*)" id="next"`).FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		is.True(len(paged) <= 20) // the paging ends
	}
	is.Equal(paged, ids(all)) // pages of 2 list the same workflows as one page
	is.True(len(paged) >= 9)  // the fixture's workflows and children

	code, body = get(t, srv, "/?status=RUNNING")
	is.Equal(code, http.StatusBadRequest) // an unknown status
	is.True(strings.Contains(body, `unknown status`))
	code, _ = get(t, srv, "/?n=0")
	is.Equal(code, http.StatusBadRequest) // a bad page size
	code, _ = get(t, srv, "/nothing-here")
	is.Equal(code, http.StatusNotFound)
}

// ids returns the IDs of the workflows a list page shows, in order.
func ids(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, htmlUnescape(m[1]))
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

func testDetail(t *testing.T, c *durable.Client) {
	is := is.New(t)
	srv := view(t, c, inspectweb.Options{})
	steps, err := c.Steps(context.Background(), checkoutID)
	is.NoErr(err)
	code, body := get(t, srv, "/wf/"+checkoutID)
	is.Equal(code, http.StatusOK)
	is.Equal(len(stepBarRE.FindAllString(body, -1)), len(steps)) // one bar per step
	is.Equal(len(steps), 3)
	is.True(strings.Contains(body, "charged 12.50"))  // a step's output
	is.True(!strings.Contains(body, "refresh.js"))    // a finished workflow does not refresh
	is.True(!strings.Contains(body, `class="write"`)) // no write button without AllowWrites

	_, body = get(t, srv, "/wf/"+parentID)
	is.Equal(strings.Count(body, `<rect class="child"`), 2) // a bar per child

	_, body = get(t, srv, "/wf/"+waiterID)
	is.True(strings.Contains(body, "refresh.js")) // an active workflow refreshes

	_, body = get(t, srv, "/wf/"+notifyID+"?event=status&stream=progress")
	is.True(strings.Contains(body, "received a message"))             // the message it received
	is.True(strings.Contains(body, "&#34;thanks&#34;"))               // with its value
	is.True(strings.Contains(body, `<pre class="payload">&#34;sent`)) // the event's value
	is.True(strings.Contains(body, "&#34;&lt;second&gt;&#34;"))       // the stream's values, escaped
	_, body = get(t, srv, "/wf/"+notifyID+"?event=nothing")
	is.True(strings.Contains(body, "not set")) // an event never set

	code, body = get(t, srv, "/wf/no-such-workflow")
	is.Equal(code, http.StatusNotFound) // an unknown ID
	is.True(strings.Contains(body, "no workflow has the ID"))
}

func testEscaping(t *testing.T, c *durable.Client) {
	is := is.New(t)
	srv := view(t, c, inspectweb.Options{})
	_, body := get(t, srv, "/wf/"+xssID)
	is.True(!strings.Contains(body, xssOutput))                              // the output is not markup
	is.True(strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;")) // but text
	is.True(!strings.Contains(body, "<img"))                                 // nor a step's output

	_, body = get(t, srv, "/wf/"+failedID)
	is.True(strings.Contains(body, "card declined &lt;b&gt;twice&lt;/b&gt;")) // nor an error

	// An ID made of markup and URL syntax is escaped in the list and
	// reaches its page through its link.
	_, body = get(t, srv, "/?prefix=odd")
	is.Equal(ids(body), []string{oddID})
	is.True(!strings.Contains(body, "<i>id</i>"))
	m := regexp.MustCompile(`<a href="(/wf/[^"]*)">odd`).FindStringSubmatch(body)
	is.True(m != nil) // the link to its page
	code, page := get(t, srv, htmlUnescape(m[1]))
	is.Equal(code, http.StatusOK)
	is.True(strings.Contains(page, `<p class="wfid">odd/&lt;i&gt;id&lt;/i&gt;?x=1&amp;y=&#34;2&#34;#frag</p>`)) // its own page
}

func testReadOnly(t *testing.T, c *durable.Client) {
	is := is.New(t)
	srv := view(t, c, inspectweb.Options{})
	_, body := get(t, srv, "/wf/"+waiterID)
	is.True(!strings.Contains(body, `class="write"`)) // no button
	is.True(!strings.Contains(body, `name="token"`))  // no token to steal
	for _, path := range []string{"/cancel/" + waiterID, "/resume/" + failedID, "/fork/" + checkoutID, "/"} {
		code, _ := post(t, srv, path, url.Values{"from_step": {"1"}}, nil)
		is.Equal(code, http.StatusMethodNotAllowed) // every POST refused
	}
	is.Equal(status(t, c, waiterID), durable.StatusPending) // nothing changed
	is.Equal(status(t, c, failedID), durable.StatusError)
}

func testWrites(t *testing.T, c *durable.Client) {
	is := is.New(t)
	srv := view(t, c, inspectweb.Options{AllowWrites: true})
	_, body := get(t, srv, "/wf/"+waiterID)
	is.True(strings.Contains(body, `id="cancel"`)) // a cancel button for an active workflow
	m := tokenRE.FindStringSubmatch(body)
	is.True(m != nil) // the form carries the token
	token := m[1]
	same := map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}

	for _, tc := range []struct {
		name  string
		form  url.Values
		hdr   map[string]string
		wants int
	}{
		{"no token", url.Values{}, same, http.StatusForbidden},
		{"wrong token", url.Values{"token": {strings.Repeat("0", len(token))}}, same, http.StatusForbidden},
		{"foreign origin", url.Values{"token": {token}}, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", url.Values{"token": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site fetch", url.Values{"token": {token}}, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, http.StatusForbidden},
	} {
		code, _ := post(t, srv, "/cancel/"+waiterID, tc.form, tc.hdr)
		is.Equal(code, tc.wants) // tc.name
	}
	is.Equal(status(t, c, waiterID), durable.StatusPending) // no refused request changed anything

	code, _ := post(t, srv, "/fork/"+checkoutID, url.Values{"token": {token}, "from_step": {"9"}}, same)
	is.Equal(code, http.StatusBadRequest) // a fork past the last step
	code, _ = post(t, srv, "/fork/"+checkoutID, url.Values{"token": {token}, "from_step": {"x"}}, same)
	is.Equal(code, http.StatusBadRequest) // a step that is no number
	code, _ = post(t, srv, "/cancel/no-such-workflow", url.Values{"token": {token}}, same)
	is.Equal(code, http.StatusNotFound)
	code, _ = post(t, srv, "/resume/"+checkoutID, url.Values{"token": {token}}, same)
	is.Equal(code, http.StatusConflict) // resuming a workflow that succeeded

	code, loc := post(t, srv, "/cancel/"+waiterID, url.Values{"token": {token}}, same)
	is.Equal(code, http.StatusSeeOther) // the token, from the view itself
	is.Equal(loc, "/wf/"+waiterID)
	is.Equal(status(t, c, waiterID), durable.StatusCancelled)

	// A client that is no browser sends neither header: the token suffices.
	code, loc = post(t, srv, "/fork/"+checkoutID, url.Values{"token": {token}, "from_step": {"3"}}, nil)
	is.Equal(code, http.StatusSeeOther)
	is.True(strings.HasPrefix(loc, "/wf/") && loc != "/wf/"+checkoutID) // the fork's page
}

func TestServe(t *testing.T) {
	is := is.New(t)
	c := fill(t, backends(t)[0].url)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{ready: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- inspectweb.Serve(ctx, c, inspectweb.Options{Addr: "127.0.0.1:0", Out: out}) }()
	line := <-out.ready
	is.True(strings.HasPrefix(line, "listening on http://127.0.0.1:")) // it says where
	u := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	resp, err := http.Get(u)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, http.StatusOK)

	req, err := http.NewRequest(http.MethodGet, u, nil)
	is.NoErr(err)
	req.Host = "rebound.example:7070" // a name made to resolve to 127.0.0.1
	resp, err = http.DefaultClient.Do(req)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, http.StatusMisdirectedRequest) // refused on a loopback address

	cancel()
	is.NoErr(<-done) // stops cleanly when its context ends
	_, err = http.Get(u)
	is.True(err != nil) // and no longer listens
}

// syncWriter hands the first line written to it to ready.
type syncWriter struct {
	buf   bytes.Buffer
	ready chan string
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if line, ok := strings.CutSuffix(w.buf.String(), "\n"); ok {
		select {
		case w.ready <- line:
		default:
		}
	}
	return len(p), nil
}
