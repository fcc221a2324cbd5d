package inspectweb

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dboslite/dboslite/durable"
)

// DefaultAddr is the address Serve listens on when Options.Addr is
// empty: the loopback interface only.
const DefaultAddr = "127.0.0.1:7070"

// Options configures the web view.
type Options struct {
	// Addr is the address Serve listens on. Defaults to DefaultAddr; a
	// port of 0 picks a free one.
	Addr string
	// AllowWrites shows the cancel, resume and fork buttons and accepts
	// the requests they make. Without it the view only reads.
	AllowWrites bool
	// Out receives the line "listening on http://…/" once Serve listens.
	// Defaults to io.Discard.
	Out io.Writer
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// server answers the view's requests.
type server struct {
	c     *durable.Client
	o     Options
	token string // the per-process token every write must carry
	pages map[string]*template.Template
	xorig *http.CrossOriginProtection
}

// Handler returns the web view of the workflows c reaches.
func Handler(c *durable.Client, o Options) (http.Handler, error) {
	if c == nil {
		return nil, errors.New("inspectweb: Handler needs a client")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("inspectweb: token: %w", err)
	}
	s := &server{c: c, o: o, token: hex.EncodeToString(b), pages: map[string]*template.Template{},
		xorig: http.NewCrossOriginProtection()}
	for _, page := range []string{"list", "detail", "error"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("inspectweb: template %s: %w", page, err)
		}
		s.pages[page] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("inspectweb: assets: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.list)
	mux.HandleFunc("GET /wf/{id...}", s.detail)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("POST /cancel/{id...}", s.write(s.cancel))
	mux.HandleFunc("POST /resume/{id...}", s.write(s.resume))
	mux.HandleFunc("POST /fork/{id...}", s.write(s.fork))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
	})
	return s.guard(mux), nil
}

// guard sets the headers every answer carries and refuses, without
// AllowWrites, every method but GET and HEAD.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Defence in depth: payloads are escaped, and no script but the
		// view's own could run anyway.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin") // keeps Origin on our own forms
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !s.o.AllowWrites {
			h.Set("Allow", "GET, HEAD")
			s.fail(w, r, http.StatusMethodNotAllowed, "this view is read-only: start it with -allow-writes to cancel, resume or fork")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// write wraps a write: it runs only for a request from the view's own
// origin that carries the token.
func (s *server) write(do func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.xorig.Check(r); err != nil {
			s.fail(w, r, http.StatusForbidden, "refused: a cross-origin request")
			return
		}
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, http.StatusBadRequest, "unreadable form: "+err.Error())
			return
		}
		if !validToken(r.PostFormValue("token"), s.token) {
			s.fail(w, r, http.StatusForbidden, "refused: the form's token is missing or stale; reload the page")
			return
		}
		do(w, r)
	}
}

// Serve serves the web view of c on o.Addr until ctx ends, then stops
// the server, letting requests in flight finish for up to five seconds.
// On a loopback address it answers only requests for a loopback host
// name or address, which stops DNS rebinding.
func Serve(ctx context.Context, c *durable.Client, o Options) error {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	h, err := Handler(c, o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("inspectweb: listen: %w", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if addr.IP.IsLoopback() {
		h = loopbackOnly(h)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn)}
	fmt.Fprintf(o.Out, "listening on http://%s/\n", addr)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("inspectweb: serve: %w", err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(stop)
	<-done
	if err != nil {
		return fmt.Errorf("inspectweb: stop: %w", err)
	}
	return nil
}

// loopbackOnly refuses requests whose Host is not a loopback address or
// localhost: a page of another site whose name was made to resolve to
// 127.0.0.1 must not read the view.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		host = strings.Trim(host, "[]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "inspectweb: refused: host "+r.Host+" is not a loopback address", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}
