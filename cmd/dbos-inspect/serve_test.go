package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// serve starts "dbos-inspect serve" with args and returns the address it
// listens on, and a function that stops it and returns its exit status.
func serve(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(args, "-addr", "127.0.0.1:0"), w, io.Discard, os.Getenv)
		w.Close()
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed no address: %v (exit %d)", err, <-done)
	}
	go io.Copy(io.Discard, r)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	return strings.TrimSuffix(addr, "/"), func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop on Ctrl-C")
			return -1
		}
	}
}

// get returns the body of a GET of u.
func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// serve shows the database's workflows, writes nothing without
// -allow-writes, and cancels with it.
func TestServe(t *testing.T) {
	for name, newURL := range backends(t) {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			db := newURL(t)
			fixture(t, db)

			addr, stop := serve(t, "serve", "-db", db)
			is.True(strings.Contains(get(t, addr+"/"), "order-1001"))            // the list
			is.True(strings.Contains(get(t, addr+"/wf/order-1001"), "charge"))   // a workflow's page
			is.True(!strings.Contains(get(t, addr+"/wf/import-3"), `id="fork"`)) // no write buttons
			resp, err := http.PostForm(addr+"/resume/import-3", url.Values{})
			is.NoErr(err)
			resp.Body.Close()
			is.True(resp.StatusCode >= 400) // writes refused
			is.Equal(stop(), 0)             // a clean end on Ctrl-C

			addr, stop = serve(t, "serve", "-db", db, "-allow-writes")
			is.True(strings.Contains(get(t, addr+"/wf/import-3"), `id="fork"`)) // the buttons
			is.Equal(stop(), 0)
		})
	}
}
