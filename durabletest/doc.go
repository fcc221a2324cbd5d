// Package durabletest helps test code built on package durable: engines
// on temporary databases, and crashes simulated inside the test process.
//
// # Engines
//
// New makes an engine on a new, empty temporary database (a SQLite file
// in t.TempDir(), or a PostgreSQL schema with WithPostgres), shut down and
// removed when the test ends: register the workflows, then Launch it
// (NewWorkflow does the three for one workflow). An
// Env is one such database for engines that share it, as successive runs
// of one program do; Env.Reset moves it to a fresh database.
//
// # Crashes
//
// CrashAt runs a workflow in a process that dies at a given step as a
// SIGKILL would — the step's function ran, but nothing from that step on
// is recorded, and the workflow's goroutine is gone — then recovers it in
// a new process on the same database and returns what it returned, with
// a [Report] of how often each step's function ran. CrashEveryStep
// crashes the workflow at each of its steps in turn and checks that each
// recovered run ends as a run without a crash does.
//
// The crash happens inside the test process: the dying engine's store
// refuses every operation from the crash point on, so the engine
// records nothing more, and the engine is then shut down. Code outside
// steps may run on between the crash and the shutdown (the workflow
// function sees an error and returns); step functions do not.
//
// A step whose function ran but whose outcome was not recorded runs
// again after a restart: steps run at least once, not exactly once.
// [Report.Repeated] lists them, so a test can check that their side
// effects hold up when repeated.
package durabletest
