package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const intro = `dbos-inspect shows and steers the workflows of a system database.

Usage: dbos-inspect [-db URL] COMMAND [flags] [args]

The database is -db URL or $DBOS_SYSTEM_DATABASE_URL: sqlite:app.db,
sqlite:/var/app.db, sqlite:///app.db, postgres://user@host/db, or
host=... dbname=.... It is never created or migrated. The read commands
(list, show, steps, queues, stats, watch) open it read-only: looking at
a live application neither blocks it nor changes its file.

Commands:
`

const outro = `
Read commands take -json for a stable shape (see the README). Colours
only on a terminal, never with NO_COLOR set. Exit status: 0 ok, 1 error,
2 usage error.
`

func helpFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	return func(_ context.Context, in *inspector, args []string) error {
		return help(in.out, args)
	}
}

// help writes the list of commands, or one command's flags.
func help(w io.Writer, args []string) error {
	if len(args) == 0 {
		io.WriteString(w, intro)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range commands {
			fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
		}
		tw.Flush()
		io.WriteString(w, outro)
		return nil
	}
	if len(args) > 1 {
		return usagef("help takes one command name")
	}
	c := lookup(args[0])
	if c == nil {
		return usagef("help: unknown command %q", args[0])
	}
	fmt.Fprintf(w, "Usage: dbos-inspect %s %s\n\n%s.\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.String("db", "", "system database URL (default $DBOS_SYSTEM_DATABASE_URL)")
	c.flags(fs)
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	return nil
}
