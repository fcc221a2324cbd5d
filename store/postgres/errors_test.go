package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Severity: "ERROR", Code: code}) }
	lost := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		err  error
		want fault
	}{
		{"nil", nil, fault{}},
		{"serialization failure", pg("40001"), fault{transient: true}},
		{"serialization failure at commit", committing(pg("40001")), fault{transient: true}},
		{"deadlock", pg("40P01"), fault{transient: true}},
		{"too many connections", pg("53300"), fault{transient: true}},
		{"admin shutdown in a transaction", pg("57P01"), fault{transient: true}},
		{"admin shutdown at commit", committing(pg("57P01")), fault{transient: true, unsure: true}},
		{"crash shutdown", pg("57P02"), fault{transient: true}},
		{"server starting", pg("57P03"), fault{transient: true}},
		{"connection failure", pg("08006"), fault{transient: true}},
		{"connection failure at commit", committing(pg("08006")), fault{transient: true, unsure: true}},
		{"unique violation", pg("23505"), fault{}},
		{"unique violation at commit", committing(pg("23505")), fault{}},
		{"connect failed", &pgconn.ConnectError{}, fault{transient: true}}, // no PgError inside: a dial that failed
		{"syntax error", pg("42601"), fault{}},
		{"bad connection", driver.ErrBadConn, fault{transient: true}},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), fault{transient: true}},
		{"connection reset in a transaction", lost, fault{transient: true}},
		{"connection reset at commit", committing(lost), fault{transient: true, unsure: true}},
		{"EOF", io.ErrUnexpectedEOF, fault{transient: true}},
		{"EOF at commit", committing(io.EOF), fault{transient: true, unsure: true}},
		{"conn closed at commit", committing(pgconn.ErrConnClosed), fault{transient: true, unsure: true}},
		{"conn done", sql.ErrConnDone, fault{transient: true}},
		{"cancelled", context.Canceled, fault{}},
		{"cancelled at commit", committing(context.Canceled), fault{unsure: true}},
		{"deadline at commit", committing(fmt.Errorf("timeout: %w", context.DeadlineExceeded)), fault{unsure: true}},
		{"not found", store.ErrNotFound, fault{}},
		{"conflict", store.ErrConflict, fault{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(classify(tt.err), tt.want)
		})
	}
}

// TestClassifyWrongPassword checks that a refused login, a ConnectError
// with the server's error inside, is not tried again.
func TestClassifyWrongPassword(t *testing.T) {
	is := is.New(t)
	err := fmt.Errorf("connect: %w: %w", &pgconn.ConnectError{}, &pgconn.PgError{Severity: "FATAL", Code: "28P01"})
	is.Equal(classify(err), fault{}) // failed for good
}

func TestRetry(t *testing.T) {
	lost := committing(io.EOF)
	tests := []struct {
		name  string
		kind  kind
		errs  []error // what the tries return, in turn; nil after
		tries int
		want  error
	}{
		{"read, transient", read, []error{io.EOF, io.EOF}, 3, nil},
		{"idempotent write, commit unsure", idempotent, []error{lost}, 2, nil},
		{"once, before commit", once, []error{io.EOF}, 2, nil},
		{"once, commit unsure", once, []error{lost}, 1, ErrOutcomeUnknown},
		{"once, cancelled at commit", once, []error{committing(context.Canceled)}, 1, ErrOutcomeUnknown},
		{"not transient", idempotent, []error{store.ErrConflict}, 1, store.ErrConflict},
		{"bounded", read, []error{io.EOF, io.EOF, io.EOF, io.EOF, io.EOF, io.EOF, io.EOF, io.EOF}, maxTries, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s := &Store{}
			tries := 0
			err := s.retry(context.Background(), tt.kind, func() error {
				tries++
				if tries <= len(tt.errs) {
					return tt.errs[tries-1]
				}
				return nil
			})
			is.Equal(tries, tt.tries)            // tried this often
			is.True(errors.Is(err, tt.want))     // with this outcome
			is.Equal(err == nil, tt.want == nil) // and no other
		})
	}
	t.Run("closed", func(t *testing.T) {
		is := is.New(t)
		s := &Store{}
		s.closed.Store(true)
		err := s.retry(context.Background(), read, func() error { return nil })
		is.True(errors.Is(err, store.ErrClosed)) // a closed store does nothing
	})
}

// TestKeysConcatenate checks what the statements that build keys in SQL
// rely on: a key is the key of "" followed by the name.
func TestKeysConcatenate(t *testing.T) {
	is := is.New(t)
	is.Equal(store.KeyWorkflow("")+"wf-1", store.KeyWorkflow("wf-1"))
	is.Equal(store.KeyQueue("")+"q", store.KeyQueue("q"))
	is.Equal(store.KeyCancelled("")+"inst", store.KeyCancelled("inst"))
}
