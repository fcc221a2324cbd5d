package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/dboslite/dboslite/durable"
)

// The write commands open the database read-write, change what their
// flags say through durable.Client, and print one line saying what they
// did.

func cancelFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	kids := fs.Bool("children", true, "cancel its children, and theirs, too")
	return func(ctx context.Context, in *inspector, args []string) error {
		id, err := oneID("cancel", args)
		if err != nil {
			return err
		}
		if err := in.c.Cancel(ctx, id, durable.WithChildren(*kids)); err != nil {
			return err
		}
		fmt.Fprintf(in.out, "cancelled %s\n", id)
		return nil
	}
}

func resumeFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	return func(ctx context.Context, in *inspector, args []string) error {
		id, err := oneID("resume", args)
		if err != nil {
			return err
		}
		if err := in.c.Resume(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(in.out, "resumed %s: a live engine of its application version runs it\n", id)
		return nil
	}
}

func forkFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	step := fs.Int("step", 1, "the first step the fork runs itself; the steps before it are reused")
	newID := fs.String("id", "", "the fork's ID (default: a new one)")
	version := fs.String("app-version", "", "run the fork on engines of this application version")
	queue := fs.String("queue", "", "enqueue the fork on this queue")
	return func(ctx context.Context, in *inspector, args []string) error {
		id, err := oneID("fork", args)
		if err != nil {
			return err
		}
		var opts []durable.ForkOption
		if *newID != "" {
			opts = append(opts, durable.WithForkID(*newID))
		}
		if *version != "" {
			opts = append(opts, durable.WithForkVersion(*version))
		}
		if *queue != "" {
			opts = append(opts, durable.WithForkQueue(*queue))
		}
		fork, err := in.c.Fork(ctx, id, *step, opts...)
		if err != nil {
			return err
		}
		fmt.Fprintf(in.out, "forked %s from step %d as %s\n", id, *step, fork)
		return nil
	}
}

func deleteFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	kids := fs.Bool("children", false, "delete its children, and theirs, too")
	return func(ctx context.Context, in *inspector, args []string) error {
		id, err := oneID("delete", args)
		if err != nil {
			return err
		}
		if err := in.c.Delete(ctx, id, durable.WithChildren(*kids)); err != nil {
			return err
		}
		fmt.Fprintf(in.out, "deleted %s\n", id)
		return nil
	}
}

func gcFlags(fs *flag.FlagSet) func(context.Context, *inspector, []string) error {
	older := fs.Duration("older-than", 0, "delete finished workflows that completed longer ago than this (e.g. 720h)")
	keep := fs.Int("keep", 0, "delete all but this many of the newest finished workflows")
	return func(ctx context.Context, in *inspector, args []string) error {
		if err := noArgs("gc", args); err != nil {
			return err
		}
		if *older < 0 || *keep < 0 || *older == 0 && *keep == 0 {
			return usagef("gc needs a positive -older-than or -keep")
		}
		r := durable.Retention{KeepNewest: *keep}
		if *older > 0 {
			r.CompletedBefore = nowFunc().Add(-*older)
		}
		n, err := in.c.CollectGarbage(ctx, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(in.out, "deleted %d finished workflows\n", n)
		return nil
	}
}
