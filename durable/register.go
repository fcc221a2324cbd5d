package durable

import (
	"context"
	"fmt"
	"reflect"
	"slices"
)

// Workflow is a registered workflow function taking In and returning Out.
// Start, Run and Retrieve work on it from anywhere; called from inside
// another workflow, Start and Run make a child workflow.
type Workflow[In, Out any] struct {
	eng *Engine
	reg *registration
}

// registration is a workflow as the engine runs it, without types: it
// decodes the input, calls the function and hands back its result.
type registration struct {
	name        string
	maxRecovery int
	exec        func(ctx context.Context, input []byte) (any, error)
	input       reflect.Type  // the function's In
	schedule    *codeSchedule // see WithSchedule; nil for none
}

// RegisterOption configures a workflow at registration. Make one with
// WithMaxRecoveryAttempts or WithSchedule.
type RegisterOption struct{ apply func(*registration) }

// WithMaxRecoveryAttempts sets how many times the workflow is recovered
// after its first run before it is set to MAX_RECOVERY_ATTEMPTS_EXCEEDED,
// with the meaning Config.MaxRecoveryAttempts gives n: 0 is the default
// (Config.MaxRecoveryAttempts), negative is unlimited.
func WithMaxRecoveryAttempts(n int) RegisterOption {
	return RegisterOption{func(r *registration) {
		if n != 0 {
			r.maxRecovery = n
		}
	}}
}

// Register makes fn a workflow under name. The name, not the Go function,
// identifies the workflow in the system database: keep it when you rename
// the function. Register before Launch.
func Register[In, Out any](e *Engine, name string, fn func(ctx context.Context, in In) (Out, error), opts ...RegisterOption) (*Workflow[In, Out], error) {
	if name == "" {
		return nil, fmt.Errorf("%w: the name is empty", ErrInvalidName)
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: %q has a nil function", ErrInvalidName, name)
	}
	reg := &registration{name: name, maxRecovery: e.cfg.MaxRecoveryAttempts, input: reflect.TypeFor[In]()}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(reg)
		}
	}
	if err := reg.checkSchedule(); err != nil {
		return nil, err
	}
	reg.exec = func(ctx context.Context, input []byte) (any, error) {
		in, err := decode[In](e, "input of workflow "+name, input)
		if err != nil {
			return nil, err
		}
		return fn(ctx, in)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != stateNew {
		return nil, fmt.Errorf("%w: register %q before Launch", ErrAlreadyLaunched, name)
	}
	if _, dup := e.registry[name]; dup {
		return nil, fmt.Errorf("%w: %q", ErrDuplicateName, name)
	}
	e.registry[name] = reg
	return &Workflow[In, Out]{eng: e, reg: reg}, nil
}

// Name returns the name the workflow was registered under.
func (w *Workflow[In, Out]) Name() string { return w.reg.name }

func (e *Engine) registered(name string) *registration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.registry[name]
}

// registeredNames returns the names of the registered workflows, sorted.
func (e *Engine) registeredNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.registry))
	for n := range e.registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
