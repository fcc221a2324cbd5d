package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// result is what one run of the command printed, and its status.
type result struct {
	code           int
	stdout, stderr string
}

// inspect runs dbos-inspect with args on the database at url.
func inspect(url string, args ...string) result {
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "DBOS_SYSTEM_DATABASE_URL" {
			return url
		}
		return ""
	}
	code := run(context.Background(), args, &out, &errOut, env)
	return result{code, out.String(), errOut.String()}
}

// The page tokens of a backend are opaque: golden files show TOKEN.
var tokens = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`-after \S+`), "-after TOKEN"},
	{regexp.MustCompile(`"next": "[^"]*"`), `"next": "TOKEN"`},
}

// text is what a golden file holds: stdout, then the exit status and
// stderr if it failed.
func (r result) text() string {
	s := r.stdout
	for _, tk := range tokens {
		s = tk.re.ReplaceAllString(s, tk.with)
	}
	if r.code != 0 || r.stderr != "" {
		s += fmt.Sprintf("--- exit %d\n%s", r.code, r.stderr)
	}
	return s
}

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// The read commands' text and JSON output, on each backend, against the
// same golden files: the fixture's times and IDs are fixed.
func TestReadCommands(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"list", []string{"list"}},
		{"list-json", []string{"list", "-json"}},
		{"list-filtered", []string{"list", "-status", "error,cancelled"}},
		{"list-page", []string{"list", "-limit", "2"}},
		{"list-page-json", []string{"list", "-limit", "2", "-json"}},
		{"list-page-2", []string{"list", "-limit", "2", "-after", "PAGE-1"}},
		{"list-payloads", []string{"list", "-payloads", "-name", "echo"}},
		{"list-full", []string{"list", "-payloads", "-full", "-name", "echo"}},
		{"list-none", []string{"list", "-name", "nothing"}},
		{"show", []string{"show", "order-1001"}},
		{"show-json", []string{"show", "-json", "order-1001"}},
		{"show-failed", []string{"show", "order-1002"}},
		{"show-running", []string{"show", "-width", "30", "report-7"}},
		{"show-full", []string{"show", "-full", "echo-long"}},
		{"steps", []string{"steps", "order-1001"}},
		{"steps-json", []string{"steps", "-json", "order-1002"}},
		{"queues", []string{"queues"}},
		{"queues-json", []string{"queues", "-json"}},
		{"stats", []string{"stats"}},
		{"stats-json", []string{"stats", "-json"}},
		{"watch", []string{"watch", "-count", "1"}},
		{"watch-json", []string{"watch", "-count", "1", "-json", "-rows", "2"}},
		{"help", []string{"help"}},
		{"help-list", []string{"help", "list"}},
		{"error-unknown-workflow", []string{"show", "order-9999"}},
		{"error-bad-status", []string{"list", "-status", "DONE"}},
		{"error-unknown-command", []string{"lst"}},
		{"error-no-id", []string{"steps"}},
		{"error-bad-flag", []string{"list", "-limit", "many"}},
	}
	for backend, newURL := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			url := newURL(t)
			fixture(t, url)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					args := slices.Clone(c.args)
					if args[len(args)-1] == "PAGE-1" {
						args[len(args)-1] = nextPage(t, url)
					}
					golden(t, c.name, inspect(url, args...).text())
				})
			}
		})
	}
}

// nextPage returns the token of the page after the first page of two.
func nextPage(t *testing.T, url string) string {
	t.Helper()
	r := inspect(url, "list", "-limit", "2")
	_, token, ok := strings.Cut(r.stdout, "more: add -after ")
	if !ok {
		t.Fatalf("a full page ends with no token:\n%s", r.stdout)
	}
	return strings.TrimSpace(token)
}

// No database given is a usage error that says how to give one; no
// command is one too.
func TestUsage(t *testing.T) {
	is := is.New(t)
	r := inspect("", "list")
	is.Equal(r.code, exitUsage)                                                                                                            // no database
	is.Equal(r.stderr, "dbos-inspect: no database: give -db URL or set $DBOS_SYSTEM_DATABASE_URL (run \"dbos-inspect help\" for usage)\n") // says what to do
	r = inspect("sqlite:x.db")
	is.Equal(r.code, exitUsage)                               // no command
	is.True(bytes.Contains([]byte(r.stderr), []byte("list"))) // the commands are shown
}
