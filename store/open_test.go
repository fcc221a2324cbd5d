package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// This package's tests link no backend in, so Open finds no opener for any
// scheme and says what to import.

func TestScheme(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"sqlite:app.db", "sqlite"},
		{"SQLite:app.db", "sqlite"},
		{"sqlite:////var/app.sqlite", "sqlite"},
		{"sqlite::memory:", "sqlite"},
		{"postgres://u:hunter2@localhost/app", "postgres"},
		{"postgresql://localhost/app", "postgres"},
		{"POSTGRES://localhost/app", "postgres"},
		{"host=localhost user=postgres password=hunter2 dbname=app", "postgres"},
		{"dbname=app", "postgres"},
		{"  host = localhost", "postgres"},
		{"mysql://localhost/app", "mysql"},
		{"file:app.db", "file"},
		{"app.db", ""},
		{"/var/app.db", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			is := is.New(t)
			is.Equal(store.Scheme(tt.url), tt.want) // the scheme of the URL
		})
	}
}

// postgresImport is the line a program adds to link the Postgres store in.
const postgresImport = `import _ "github.com/dboslite/dboslite/store/postgres"`

func TestOpenWithoutBackend(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"postgres URL", "postgres://u:hunter2@localhost/app", postgresImport},
		{"postgresql URL", "postgresql://u:hunter2@localhost:5432/app?sslmode=disable", postgresImport},
		{"key=value DSN", "host=localhost user=postgres password=hunter2 dbname=app", postgresImport},
		{"sqlite URL", "sqlite:app.db", `import _ "github.com/dboslite/dboslite/store/sqlite"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			_, err := store.Open(t.Context(), tt.url)
			is.True(errors.Is(err, store.ErrUnsupportedURL))   // no backend is linked in
			is.True(strings.Contains(err.Error(), tt.want))    // names the import to add
			is.True(!strings.Contains(err.Error(), "hunter2")) // never the password
		})
	}
}

// TestErrorsHidePasswords opens URLs with a password in every place a
// Postgres connection string can carry one; no error may show it.
func TestErrorsHidePasswords(t *testing.T) {
	urls := []string{
		"postgres://u:hunter2@localhost/app",
		"postgresql://u:hunter2@localhost:5432/app?sslmode=disable",
		"postgres://u:hun%40ter2@localhost/app",
		"postgres://u:hun/ter2@localhost/app",
		"postgres://u:hun@ter2@localhost/app",
		"postgres://u:hun ter2@localhost/app",
		"postgres://localhost/app?user=u&password=hunter2",
		"postgres://localhost/app?sslmode=require&PASSWORD=hunter2#x",
		"postgres://localhost/app?pass%77ord=hunter2",
		"postgres://localhost/app?sslpassword=hunter2",
		"host=localhost password=hunter2 dbname=app",
		"password=hunter2",
		"host=localhost password = hunter2 dbname=app",
		"host=localhost password='hunter 2' dbname=app",
		`host=localhost password='it\'s hunter2' dbname=app`,
		`host=localhost password=hun\ ter2 dbname=app`,
		"host=localhost sslpassword=hunter2",
		"host=localhost PASSWORD=hunter2",
		"host=localhost password='hunter2",
		"host=localhost password",
		"mysql://u:hunter2@localhost/app",
		"mysql:u:hunter2@localhost/app",
		"sqlite://u:hunter2@localhost/app.db",
		"u:hunter2@localhost/app",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			is := is.New(t)
			_, err := store.Open(t.Context(), u)
			is.True(errors.Is(err, store.ErrUnsupportedURL))  // nothing is linked in
			is.True(!strings.Contains(err.Error(), "hunter")) // the password is hidden
			is.True(!strings.Contains(err.Error(), "ter2"))   // all of it
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"empty", "", "empty"},
		{"bare relative path", "app.db", `write "sqlite:app.db"`},
		{"bare absolute path", "/var/app.db", `write "sqlite:/var/app.db"`},
		{"Windows path", `C:\data\app.db`, "bare file path"},
		{"file URI", "file:app.db", "file: URI"},
		{"file URI with authority", "file:///var/app.db", "file: URI"},
		{"unknown scheme", "mysql://localhost/app", `scheme "mysql"`},
		{"sqlite3", "sqlite3:app.db", `scheme "sqlite3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			_, err := store.Open(t.Context(), tt.url)
			is.True(errors.Is(err, store.ErrUnsupportedURL)) // refused
			msg := err.Error()
			is.True(strings.Contains(msg, tt.want)) // says why
			for _, form := range acceptedForms {
				is.True(strings.Contains(msg, form)) // lists the accepted forms
			}
		})
	}
}

// acceptedForms are the forms every refusal of a URL lists.
var acceptedForms = []string{
	"sqlite:app.db",
	"sqlite:/var/app.db",
	"sqlite::memory:",
	"sqlite:///app.db",
	"sqlite:////var/app.db",
	"postgres://",
	"postgresql://",
	"host=",
}
