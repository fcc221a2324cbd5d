package inspectweb

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dboslite/dboslite/durable"
)

// view is what the layout renders: a page's data with what every page
// shares.
type view struct {
	Title   string
	Refresh int // seconds between reloads of the page; 0 for none
	Writes  bool
	Token   string
	Data    any
}

// funcs are the templates' helpers. None returns template.HTML: whatever
// they produce is escaped like any other value.
var funcs = template.FuncMap{
	"when":   when,
	"human":  human,
	"took":   took,
	"pretty": pretty,
	"cut":    cut,
	"wfPath": wfPath,
	"actionPath": func(op, id string) string {
		return "/" + op + "/" + url.PathEscape(id)
	},
	"lower": strings.ToLower,
}

// render renders page in the layout.
func (s *server) render(w http.ResponseWriter, r *http.Request, page string, v view) {
	s.renderStatus(w, r, http.StatusOK, page, v)
}

func (s *server) renderStatus(w http.ResponseWriter, r *http.Request, code int, page string, v view) {
	v.Writes, v.Token = s.o.AllowWrites, s.token
	var b bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		slog.Error("inspectweb: render", "page", page, "err", err)
		http.Error(w, "inspectweb: cannot render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}

// fail answers with an error page saying msg.
func (s *server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.renderStatus(w, r, code, "error", view{Title: http.StatusText(code), Data: errorPage{Code: code, Message: msg}})
}

type errorPage struct {
	Code    int
	Message string
}

// failErr answers with the error page an error of the client calls for.
func (s *server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, durable.ErrWorkflowNotFound):
		code = http.StatusNotFound
	case errors.Is(err, durable.ErrInvalidQuery), errors.Is(err, durable.ErrInvalidFork):
		code = http.StatusBadRequest
	case errors.Is(err, durable.ErrCannotResume):
		code = http.StatusConflict
	}
	s.fail(w, r, code, err.Error())
}

// validToken compares a form's token with the server's in constant time.
func validToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// when formats a time in the server's zone; the zero time is "-".
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

// took is how long a workflow ran, or has been running.
func took(wf durable.WorkflowStatus) string {
	if wf.CompletedAt.IsZero() {
		return human(time.Since(wf.CreatedAt)) + " so far"
	}
	return human(wf.CompletedAt.Sub(wf.CreatedAt))
}

// human writes a duration for people: 0.42ms, 12.3ms, 4.51s, 3m12s.
func human(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + human(-d)
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// pretty writes a decoded payload as indented JSON, its characters as
// they are (the template escapes them).
func pretty(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// cut shortens s to n characters, marking the cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// wfPath is the path of a workflow's page.
func wfPath(id string) string { return "/wf/" + url.PathEscape(id) }

func itoa(n int) string { return strconv.Itoa(n) }
