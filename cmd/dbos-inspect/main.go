// Command dbos-inspect shows and steers the workflows of a dboslite (or
// DBOS) system database, on SQLite or PostgreSQL, from a terminal.
//
//	dbos-inspect [-db URL] COMMAND [flags] [args]
//
// Run "dbos-inspect help" for the commands. The database is -db or
// $DBOS_SYSTEM_DATABASE_URL; it is never created or migrated, and the
// read commands open it read-only, so looking at a live application
// neither blocks it nor changes its file.
//
// Exit status: 0 on success, 1 on an error, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/internal/inspectweb"
	"github.com/dboslite/dboslite/store"
	_ "github.com/dboslite/dboslite/store/postgres" // both backends linked in
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// The exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand: its flags are added to fs, then it runs with
// the remaining arguments.
type command struct {
	name    string
	args    string // the synopsis after the name
	summary string
	// write marks commands that change the database: they open it
	// read-write, every other one read-only.
	write bool
	// noDB marks commands that need no database (help).
	noDB  bool
	flags func(fs *flag.FlagSet) func(ctx context.Context, in *inspector, args []string) error
}

// commands lists the subcommands in the order help shows them.
var commands []command

func init() {
	commands = []command{
		{name: "list", args: "[flags]", summary: "list workflows, newest first", flags: listFlags},
		{name: "show", args: "[flags] ID", summary: "show a workflow, with a timeline of its steps and children", flags: showFlags},
		{name: "steps", args: "[flags] ID", summary: "list a workflow's recorded steps", flags: stepsFlags},
		{name: "queues", args: "[flags]", summary: "count the enqueued and running workflows of each queue", flags: queuesFlags},
		{name: "stats", args: "[flags]", summary: "count workflows by status, name and queue; step-duration percentiles", flags: statsFlags},
		{name: "watch", args: "[flags]", summary: "a live view of running and recent workflows and queue depths", flags: watchFlags},
		{name: "cancel", args: "[flags] ID", summary: "cancel a workflow (and its children)", write: true, flags: cancelFlags},
		{name: "resume", args: "ID", summary: "run a cancelled or failed workflow again from its first unrecorded step", write: true, flags: resumeFlags},
		{name: "fork", args: "[flags] ID", summary: "start a new workflow from another's recorded steps", write: true, flags: forkFlags},
		{name: "delete", args: "[flags] ID", summary: "delete a workflow with its steps, messages, events and streams", write: true, flags: deleteFlags},
		{name: "gc", args: "[flags]", summary: "delete finished workflows past a retention", write: true, flags: gcFlags},
		{name: "serve", args: "[flags]", summary: "a local web view of the workflows, on 127.0.0.1:7070", flags: serveFlags},
		{name: "help", args: "[COMMAND]", summary: "show this help, or a command's flags", noDB: true, flags: helpFlags},
	}
}

// serveFlags serves the web view (package internal/inspectweb) until
// interrupted. It reads through the read-only client the command table
// opens; with -allow-writes it opens one that may write.
func serveFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	addr := fs.String("addr", inspectweb.DefaultAddr, "address to listen on (loopback by default; :0 picks a free port)")
	writes := fs.Bool("allow-writes", false, "show cancel, resume and fork buttons, and accept what they send")
	return func(ctx context.Context, in *inspector, args []string) error {
		if err := noArgs("serve", args); err != nil {
			return err
		}
		c := in.c
		if *writes {
			w, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: in.db, Logger: quietLogger()})
			if err != nil {
				return err
			}
			defer w.Close()
			c = w
		}
		return inspectweb.Serve(ctx, c, inspectweb.Options{Addr: *addr, AllowWrites: *writes, Out: in.out})
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// usageError is an error in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// run runs dbos-inspect with args (without the program name), writing to
// stdout and stderr, reading the environment through env, and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	err := dispatch(ctx, args, stdout, stderr, env)
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "dbos-inspect: %s (run \"dbos-inspect help\" for usage)\n", oneLine(ue.msg))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "dbos-inspect: %s\n", oneLine(advise(err).Error()))
		return exitError
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	var db string
	global := flag.NewFlagSet("dbos-inspect", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&db, "db", "", "system database URL")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return help(stdout, nil)
		}
		return usagef("%v", err)
	}
	args = global.Args()
	if len(args) == 0 {
		help(stderr, nil)
		return usagef("no command given")
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return usagef("unknown command %q", args[0])
	}
	fs := flag.NewFlagSet("dbos-inspect "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&db, "db", db, "system database URL (default $DBOS_SYSTEM_DATABASE_URL)")
	body := cmd.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return help(stdout, []string{cmd.name})
		}
		return usagef("%s: %v", cmd.name, err)
	}
	in := newInspector(stdout, env)
	if cmd.noDB {
		return body(ctx, in, fs.Args())
	}
	if db == "" {
		db = env("DBOS_SYSTEM_DATABASE_URL")
	}
	if db == "" {
		return usagef("no database: give -db URL or set $DBOS_SYSTEM_DATABASE_URL")
	}
	c, err := durable.NewClient(ctx, durable.ClientConfig{SystemDatabaseURL: db, ReadOnly: !cmd.write, Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer c.Close()
	in.c, in.db = c, db
	return body(ctx, in, fs.Args())
}

// oneID returns the one argument a command takes: a workflow ID.
func oneID(cmd string, args []string) (string, error) {
	switch {
	case len(args) == 0:
		return "", usagef("%s needs a workflow ID", cmd)
	case len(args) > 1:
		return "", usagef("%s takes one workflow ID, got %d arguments (flags go before the ID)", cmd, len(args))
	}
	return args[0], nil
}

// noArgs refuses arguments to a command that takes none.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd, args[0])
	}
	return nil
}

// advise adds to an error what to do about it.
func advise(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound) && !errors.Is(err, durable.ErrWorkflowNotFound):
		// A database that does not exist: store.ErrNotFound's own words
		// are about workflows.
		msg := strings.TrimSuffix(err.Error(), ": "+store.ErrNotFound.Error())
		return fmt.Errorf("%s: give -db the URL of the application's existing system database", msg)
	case errors.Is(err, durable.ErrWorkflowNotFound):
		return fmt.Errorf("%w: \"dbos-inspect list\" shows the IDs", err)
	case errors.Is(err, durable.ErrCannotResume):
		return fmt.Errorf("%w: fork it to run it again", err)
	case errors.Is(err, store.ErrReadOnly):
		return fmt.Errorf("%w: the database may only be read; use a role or a file that may be written", err)
	case errors.Is(err, context.Canceled):
		return errors.New("interrupted")
	}
	return err
}

// oneLine makes a message fit one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// nowFunc is the clock of the commands; tests set it.
var nowFunc = time.Now
